//! Page URLs, built from typed keys in one place, so every link agrees with the routes
//! (and with the pages another part of the service implements: `/diff`, `/range`).
//! Keys only hold `[A-Za-z0-9_.-]`, so no part needs percent-encoding.

use crate::graphs::export::ExportFormat;
use crate::store::layout::{GraphKind, LogKey};

/// The graph page of one graph.
pub fn view(key: &LogKey, function: Option<&str>, reversed: bool) -> String {
    let mut url = format!(
        "/view/{}/{}/{}/{}",
        key.period, key.window, key.channel, key.entry
    );
    let mut sep = '?';
    if reversed {
        url.push_str("?reversed=1");
        sep = '&';
    }
    if let Some(label) = function {
        url.push(sep);
        url.push_str("fn=");
        url.push_str(label);
    }
    url
}

/// The raw graph file.
pub fn svg(key: &LogKey, kind: &GraphKind) -> String {
    format!("/{}", key.svg_path(kind))
}

/// A window's graph drawn as an icicle (root on top), rendered on request from its range
/// summary: the range of that one window.
pub fn icicle(key: &LogKey, reversed: bool) -> String {
    let mut url = format!(
        "/range.svg?period={}&from={w}&to={w}&channel={}&entry={}&icicle=1",
        key.period,
        key.channel,
        key.entry,
        w = key.window
    );
    if reversed {
        url.push_str("&reversed=1");
    }
    url
}

/// `view_url` with the icicle layout asked for.
pub fn with_icicle(view_url: &str) -> String {
    let sep = if view_url.contains('?') { '&' } else { '?' };
    format!("{view_url}{sep}layout=icicle")
}

/// The raw trace log.
pub fn log(key: &LogKey) -> String {
    format!("/{}", key.log_path())
}

/// A window's profile in another tool's format (`/export/...`).
pub fn export(key: &LogKey, format: ExportFormat) -> String {
    format!(
        "/export/{}/{}.{}.{}.{}",
        key.period,
        key.window,
        key.channel,
        key.entry,
        format.suffix()
    )
}

/// speedscope.app opening the profile at `absolute_url` (which it fetches from the
/// browser, hence the exports' `Access-Control-Allow-Origin`).
pub fn open_in_speedscope(absolute_url: &str) -> String {
    format!(
        "https://www.speedscope.app/#profileURL={}",
        super::on_demand::url_encode(absolute_url)
    )
}

/// The differential graph of window `a` against window `b` (same period, channel, entry).
pub fn diff(key: &LogKey, b_window: &str) -> String {
    format!(
        "/diff?period={}&a={}&b={}&channel={}&entry={}",
        key.period, key.window, b_window, key.channel, key.entry
    )
}

/// The range graph merging windows `from` to `to`.
pub fn range(key: &LogKey, from: &str, to: &str, reversed: bool) -> String {
    let mut url = format!(
        "/range?period={}&from={from}&to={to}&channel={}&entry={}",
        key.period, key.channel, key.entry
    );
    if reversed {
        url.push_str("&reversed=1");
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_agreed_routes() {
        let key = LogKey::from_log_name("daily", "2026-11-24.excimer.all.log.gz").unwrap();
        assert_eq!(
            view(&key, None, false),
            "/view/daily/2026-11-24/excimer/all"
        );
        assert_eq!(
            view(&key, Some("Edit"), true),
            "/view/daily/2026-11-24/excimer/all?reversed=1&fn=Edit"
        );
        assert_eq!(
            view(&key, Some("Edit"), false),
            "/view/daily/2026-11-24/excimer/all?fn=Edit"
        );
        assert_eq!(
            diff(&key, "2026-11-17"),
            "/diff?period=daily&a=2026-11-24&b=2026-11-17&channel=excimer&entry=all"
        );
        assert_eq!(
            range(&key, "2026-11-18", "2026-11-24", true),
            "/range?period=daily&from=2026-11-18&to=2026-11-24&channel=excimer&entry=all&reversed=1"
        );
        assert_eq!(log(&key), "/logs/daily/2026-11-24.excimer.all.log.gz");
    }
}
