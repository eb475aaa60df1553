//! URL segments and query values parsed into typed keys before anything touches storage.
//!
//! A period must be a configured one, a window must be one of that period's names, a
//! channel, function label or file name is `[A-Za-z0-9_.-]` (not `.` or `..`), an entry
//! point is `[A-Za-z0-9_]`. Storage paths are only ever built from these keys by
//! [`crate::store::layout`], never by joining what the client sent: `..`, encoded slashes, NUL
//! bytes and absolute paths are refused here (400), and names that parse but do not exist
//! are 404.

use actix_web::HttpRequest;

use super::html::PageError;
use super::SiteSettings;
use crate::ingest::window::{Period, Window};
use crate::store::layout::{GraphKind, LogKey, ALL};

/// Longest segment accepted (file names are far shorter).
const MAX_SEGMENT: usize = 200;

/// A URL part that is not a valid key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Characters outside the allowed set, empty, too long, `.` or `..`.
    #[error("invalid {what} {value:?}: use letters, digits, '_', '-' and '.' only")]
    Malformed {
        /// Which part of the URL.
        what: &'static str,
        /// What was sent (for the message; escaped wherever it is shown).
        value: String,
    },
    /// Not a configured period.
    #[error("no period named {0:?} is configured")]
    UnknownPeriod(String),
    /// Not a window name of the period.
    #[error("{window:?} is not a window of period {period} (format {format})")]
    BadWindow {
        /// The period.
        period: String,
        /// Its strftime format.
        format: String,
        /// What was sent.
        window: String,
    },
    /// A file name that is not one of the layout's names.
    #[error("{0:?} is not a graph or log file name")]
    NotAFile(String),
}

impl From<KeyError> for PageError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::UnknownPeriod(_) | KeyError::NotAFile(_) => {
                PageError::NotFound(e.to_string())
            }
            _ => PageError::BadRequest(e.to_string()),
        }
    }
}

fn malformed(what: &'static str, value: &str) -> KeyError {
    KeyError::Malformed {
        what,
        value: value.chars().take(MAX_SEGMENT).collect(),
    }
}

fn checked<'a>(
    what: &'static str,
    value: &'a str,
    allowed: impl Fn(u8) -> bool,
) -> Result<&'a str, KeyError> {
    if value.is_empty()
        || value.len() > MAX_SEGMENT
        || value == "."
        || value == ".."
        || !value.bytes().all(allowed)
    {
        return Err(malformed(what, value));
    }
    Ok(value)
}

/// A channel, function label or file name: `[A-Za-z0-9_.-]`, not `.` or `..`.
pub fn name<'a>(what: &'static str, value: &'a str) -> Result<&'a str, KeyError> {
    if value.len() > MAX_SEGMENT || !crate::store::layout::is_safe_name(value) {
        return Err(malformed(what, value));
    }
    Ok(value)
}

/// An entry point: `[A-Za-z0-9_]`.
pub fn entry(value: &str) -> Result<&str, KeyError> {
    checked("entry point", value, |b| {
        b.is_ascii_alphanumeric() || b == b'_'
    })
}

/// A configured period.
pub fn period<'a>(site: &'a SiteSettings, value: &str) -> Result<&'a Period, KeyError> {
    let value = name("period", value)?;
    site.period(value)
        .ok_or_else(|| KeyError::UnknownPeriod(value.to_owned()))
}

/// One of `period`'s windows.
pub fn window(period: &Period, value: &str) -> Result<Window, KeyError> {
    let value = checked("window", value, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')
    })?;
    period
        .window_named(value)
        .ok_or_else(|| KeyError::BadWindow {
            period: period.name().to_owned(),
            format: period.format().to_owned(),
            window: value.to_owned(),
        })
}

/// One graph, as named by a page URL: window, channel, entry, optional function label
/// (function graphs exist for entry point `all` only) and direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphRef {
    /// The log the graph is rendered from.
    pub key: LogKey,
    /// Which of its graphs.
    pub kind: GraphKind,
    /// The window's times.
    pub window: Window,
}

/// Parse a page's graph URL parts.
pub fn graph(
    site: &SiteSettings,
    period_name: &str,
    window_name: &str,
    channel: &str,
    entry_point: &str,
    function: Option<&str>,
    reversed: bool,
) -> Result<GraphRef, KeyError> {
    let period = period(site, period_name)?;
    let window = window(period, window_name)?;
    let channel = name("channel", channel)?;
    let entry_point = entry(entry_point)?;
    let function = match function.filter(|f| !f.is_empty()) {
        Some(label) => {
            if entry_point != ALL {
                return Err(malformed("entry point for a function graph", entry_point));
            }
            Some(name("function label", label)?.to_owned())
        }
        None => None,
    };
    Ok(GraphRef {
        key: LogKey {
            period: period.name().to_owned(),
            window: window.name.clone(),
            channel: channel.to_owned(),
            entry: entry_point.to_owned(),
        },
        kind: GraphKind { function, reversed },
        window,
    })
}

/// `/svgs/{period}/{file}`: a graph file at the original site's path. The period is only
/// checked for shape (files of a period removed from the config stay readable until
/// they are deleted).
pub fn svg_file(period: &str, file: &str) -> Result<(LogKey, GraphKind), KeyError> {
    let period = name("period", period)?;
    let file = name("file name", file)?;
    LogKey::from_svg_name(period, file).ok_or_else(|| KeyError::NotAFile(file.to_owned()))
}

/// `/logs/{period}/{file}`: a trace log at the original site's path.
pub fn log_file(period: &str, file: &str) -> Result<LogKey, KeyError> {
    let period = name("period", period)?;
    let file = name("file name", file)?;
    LogKey::from_log_name(period, file).ok_or_else(|| KeyError::NotAFile(file.to_owned()))
}

/// actix-web's handler for path segments that do not deserialize: a 400 page.
pub fn path_error(err: actix_web::error::PathError, req: &HttpRequest) -> actix_web::Error {
    let page = PageError::BadRequest(format!("invalid URL path: {err}"));
    actix_web::error::InternalError::from_response(err, page.response_for(req)).into()
}

/// actix-web's handler for query strings that do not deserialize: a 400 page, or a JSON
/// error under `/api/`.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    req: &HttpRequest,
) -> actix_web::Error {
    let page = PageError::BadRequest(format!("invalid query: {err}"));
    actix_web::error::InternalError::from_response(err, page.response_for(req)).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::clock::Clock;

    fn site() -> SiteSettings {
        SiteSettings {
            periods: vec![
                Period::new("hourly", "%Y-%m-%d_%H").unwrap(),
                Period::new("daily", "%Y-%m-%d").unwrap(),
            ],
            channels: vec!["excimer".into()],
            functions: vec![],
            clock: Clock::system(),
            ready_needs_redis: false,
        }
    }

    #[test]
    fn traversal_and_odd_bytes_are_malformed() {
        for bad in ["..", ".", "", "a/b", "/etc", "a\0b", "..%2F", "a b", "é"] {
            assert!(
                matches!(name("x", bad), Err(KeyError::Malformed { .. })),
                "{bad:?}"
            );
        }
        assert!(entry("in.dex").is_err());
        assert_eq!(name("x", "excimer-wall.k8s"), Ok("excimer-wall.k8s"));
    }

    #[test]
    fn periods_and_windows_must_exist() {
        let site = site();
        assert_eq!(
            period(&site, "weekly"),
            Err(KeyError::UnknownPeriod("weekly".into()))
        );
        let hourly = period(&site, "hourly").unwrap();
        assert_eq!(
            window(hourly, "2026-11-24_18").unwrap().name,
            "2026-11-24_18"
        );
        assert!(matches!(
            window(hourly, "2026-11-24"),
            Err(KeyError::BadWindow { .. })
        ));
        assert!(matches!(
            window(hourly, "2026-11-24_99"),
            Err(KeyError::BadWindow { .. })
        ));
    }

    #[test]
    fn graphs_parse_into_layout_keys() {
        let site = site();
        let g = graph(
            &site,
            "daily",
            "2026-11-24",
            "excimer",
            "all",
            Some("Edit"),
            true,
        )
        .unwrap();
        assert_eq!(
            g.key.svg_path(&g.kind),
            "svgs/daily/2026-11-24.excimer.all.fn-Edit.reversed.svgz"
        );
        assert!(graph(
            &site,
            "daily",
            "2026-11-24",
            "excimer",
            "index",
            Some("Edit"),
            false
        )
        .is_err());
        assert!(graph(&site, "daily", "2026-11-24", "..", "index", None, false).is_err());
    }

    #[test]
    fn raw_file_names() {
        let (key, kind) = svg_file("hourly", "2026-11-24_18.excimer.index.reversed.svgz").unwrap();
        assert_eq!(key.entry, "index");
        assert!(kind.reversed);
        assert_eq!(
            log_file("hourly", "2026-11-24_18.excimer.index.log.gz")
                .unwrap()
                .log_path(),
            "logs/hourly/2026-11-24_18.excimer.index.log.gz"
        );
        assert!(matches!(
            log_file("hourly", "passwd"),
            Err(KeyError::NotAFile(_))
        ));
        assert!(log_file("..", "x.log.gz").is_err());
    }
}
