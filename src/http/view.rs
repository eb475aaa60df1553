//! `/view/{period}/{window}/{channel}/{entry}?reversed=1&fn=LABEL`: one graph's page. The
//! SVG is embedded in an iframe (so inferno's own click-to-zoom and search run in it),
//! with links to the neighbouring stored windows, the other direction, the function
//! graphs, the raw log, and comparisons (`/diff`, `/range`). All state is in the URL.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

use super::html::{self, page, Layout, PageError, Section};
use super::listing::live_windows;
use super::{keys, urls, State};
use crate::graphs::export::ExportFormat;
use crate::store::catalogue::FileKind;
use crate::store::layout::ALL;

/// Windows merged by the "last N windows" range link.
const RANGE_WINDOWS: usize = 7;

/// Query of a graph page.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewQuery {
    /// `1` for the reversed graph.
    pub reversed: Option<String>,
    /// A function graph's label.
    #[serde(rename = "fn")]
    pub function: Option<String>,
    /// `icicle` draws the window with its root at the top (rendered on request).
    pub layout: Option<String>,
}

/// A labelled link.
pub struct Link {
    /// What it says.
    pub label: String,
    /// Where it goes.
    pub url: String,
}

/// A window's profile for other tools.
struct Exports {
    speedscope: String,
    pprof: String,
    open_in_speedscope: String,
}

#[derive(Template)]
#[template(path = "view.html")]
struct ViewPage {
    layout: Layout,
    period: String,
    window: String,
    channel: String,
    entry: String,
    svg_url: Option<String>,
    /// The graph is drawn root on top.
    icicle: bool,
    /// The window's leaderboard (each row links to its function's trend).
    top_url: String,
    /// The same graph in the other layout (whole-window graphs only).
    other_layout: Option<Link>,
    log_url: Option<String>,
    exports: Option<Exports>,
    live: bool,
    last_checkpoint: Option<String>,
    samples: Option<u64>,
    previous: Option<Link>,
    next: Option<Link>,
    other_direction: Link,
    functions: Vec<Link>,
    whole_graph: Option<Link>,
    diff_week: Option<Link>,
    diff_previous: Option<Link>,
    range: Option<Link>,
    /// A range over every stored window of this series up to this one (long ranges read
    /// roll-ups).
    history: Option<Link>,
    b_default: String,
}

/// `GET /view/{period}/{window}/{channel}/{entry}`.
pub async fn view(
    req: HttpRequest,
    state: web::Data<State>,
    path: web::Path<(String, String, String, String)>,
    query: web::Query<ViewQuery>,
) -> Result<HttpResponse, PageError> {
    let site = state.site().await?;
    let (period_name, window_name, channel, entry) = path.into_inner();
    let reversed = html::is_on(query.reversed.as_deref());
    let icicle = match query.layout.as_deref() {
        None | Some("") | Some("flame") => false,
        Some("icicle") => true,
        Some(other) => {
            return Err(PageError::BadRequest(format!(
                "layout={other:?}: use flame (the default) or icicle"
            )))
        }
    };
    let graph = keys::graph(
        &site,
        &period_name,
        &window_name,
        &channel,
        &entry,
        query.function.as_deref(),
        reversed,
    )?;
    let period = keys::period(&site, &period_name)?;
    let files = state
        .listings
        .period(state.storage.as_ref(), period)
        .await?;
    let key = &graph.key;
    let position = files
        .windows
        .iter()
        .position(|w| w.window.name == key.window);
    let this_window = position.map(|p| &files.windows[p]);
    let find = |kind: FileKind, function: Option<&str>, reversed: bool| {
        this_window.and_then(|w| {
            w.items.iter().find(|i| {
                i.kind == kind
                    && i.key.channel == key.channel
                    && i.key.entry == key.entry
                    && i.function.as_deref() == function
                    && i.reversed == reversed
            })
        })
    };
    let svg = find(FileKind::Graph, graph.kind.function.as_deref(), reversed);
    let log = find(FileKind::Log, None, false);
    if svg.is_none() && log.is_none() {
        return Err(PageError::NotFound(format!(
            "no graph or log is stored for {} {} {} {}",
            key.period, key.window, key.channel, key.entry
        )));
    }
    let samples = match log {
        Some(log) if graph.kind.function.is_none() => state
            .listings
            .summary(state.storage.as_ref(), &files, &log.path)
            .await
            .map(|s| s.samples),
        _ => None,
    };
    // Neighbours: the nearest stored windows with a log for this channel and entry.
    let has_series = |w: &crate::store::catalogue::WindowFiles| {
        w.items.iter().any(|i| {
            i.kind == FileKind::Log && i.key.channel == key.channel && i.key.entry == key.entry
        })
    };
    let neighbour = |w: &crate::store::catalogue::WindowFiles, label: &str| {
        let mut k = key.clone();
        k.window = w.window.name.clone();
        Link {
            label: format!("{label} {}", w.window.display_name()),
            url: urls::view(&k, graph.kind.function.as_deref(), reversed),
        }
    };
    // Windows are newest first: "next" (later) is towards the front, the earlier windows
    // of this series after this one.
    let (earlier, here): (Vec<&crate::store::catalogue::WindowFiles>, usize) = match position {
        Some(p) => (
            files.windows[p + 1..]
                .iter()
                .filter(|w| has_series(w))
                .collect(),
            usize::from(has_series(&files.windows[p])),
        ),
        None => (Vec::new(), 0),
    };
    let previous = earlier.first().map(|w| neighbour(w, "←"));
    let next = position.and_then(|p| {
        files.windows[..p]
            .iter()
            .rev()
            .find(|w| has_series(w))
            .map(|w| neighbour(w, "→"))
    });
    let older = earlier[..earlier.len().min(RANGE_WINDOWS - 1)]
        .last()
        .map(|w| w.window.name.clone());
    // The whole stored history of this series, when it is longer than the "last N" link.
    let stored = here + earlier.len();
    let history = (stored > RANGE_WINDOWS)
        .then(|| earlier.last())
        .flatten()
        .map(|oldest| Link {
            label: format!(
                "merge all {stored} windows since {}",
                oldest.window.display_name()
            ),
            url: urls::range(key, &oldest.window.name, &key.window, reversed),
        });
    // The window `delta` before this one starts (the first one, near the start of time).
    let window_before = |delta: TimeDelta| {
        let at = graph.window.start.checked_sub_signed(delta);
        period
            .window_at(at.unwrap_or(DateTime::<Utc>::MIN_UTC))
            .name
    };
    let week_ago = window_before(TimeDelta::days(7));
    let previous_name = window_before(TimeDelta::seconds(1));
    // Compare only with windows this series has a log for: a diff of a missing one is 404.
    let stored = |name: &str| {
        files
            .windows
            .iter()
            .any(|w| w.window.name == name && has_series(w))
    };
    let live = live_windows(state.live.as_ref())
        .await
        .contains(&(key.period.clone(), key.window.clone()));
    let function_links = if key.entry == ALL {
        site.functions
            .iter()
            .map(|label| Link {
                label: label.clone(),
                url: urls::view(key, Some(label), reversed),
            })
            .collect()
    } else {
        Vec::new()
    };
    let direction = if reversed { "reversed" } else { "forward" };
    let title = match &graph.kind.function {
        Some(f) => format!(
            "{} {} {} fn {f} ({direction})",
            key.channel,
            graph.window.display_name(),
            key.entry
        ),
        None => format!(
            "{} {} {} ({direction})",
            key.channel,
            graph.window.display_name(),
            key.entry
        ),
    };
    page(&ViewPage {
        layout: Layout::new(title, Section::Browse),
        period: key.period.clone(),
        window: key.window.clone(),
        channel: key.channel.clone(),
        entry: key.entry.clone(),
        svg_url: svg.map(|_| match (icicle, &graph.kind.function) {
            (true, None) => urls::icicle(key, reversed),
            _ => urls::svg(key, &graph.kind),
        }),
        icicle,
        top_url: format!(
            "/top?period={}&window={}&channel={}&entry={}",
            super::on_demand::url_encode(&key.period),
            super::on_demand::url_encode(&key.window),
            super::on_demand::url_encode(&key.channel),
            super::on_demand::url_encode(&key.entry)
        ),
        other_layout: graph.kind.function.is_none().then(|| Link {
            label: if icicle {
                "flame layout (root at the bottom)"
            } else {
                "icicle layout (root on top)"
            }
            .to_owned(),
            url: if icicle {
                urls::view(key, None, reversed)
            } else {
                urls::with_icicle(&urls::view(key, None, reversed))
            },
        }),
        log_url: log.map(|_| urls::log(key)),
        exports: log.map(|_| {
            let speedscope = urls::export(key, ExportFormat::Speedscope);
            let info = req.connection_info();
            let absolute = format!("{}://{}{speedscope}", info.scheme(), info.host());
            Exports {
                open_in_speedscope: urls::open_in_speedscope(&absolute),
                speedscope,
                pprof: urls::export(key, ExportFormat::Pprof),
            }
        }),
        live,
        last_checkpoint: log.map(|l| {
            DateTime::<Utc>::from(l.modified)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        }),
        samples,
        previous,
        next,
        other_direction: Link {
            label: if reversed { "forward" } else { "reversed" }.to_owned(),
            url: urls::view(key, graph.kind.function.as_deref(), !reversed),
        },
        functions: function_links,
        whole_graph: graph.kind.function.as_ref().map(|_| Link {
            label: "whole window".to_owned(),
            url: urls::view(key, None, reversed),
        }),
        diff_week: stored(&week_ago).then(|| Link {
            label: format!("compare with {}", week_ago.replace('_', " ")),
            url: urls::diff(key, &week_ago),
        }),
        diff_previous: (previous_name != week_ago && stored(&previous_name)).then(|| Link {
            label: format!("compare with {}", previous_name.replace('_', " ")),
            url: urls::diff(key, &previous_name),
        }),
        range: older.map(|from| Link {
            label: format!("merge {from} to {}", key.window).replace('_', " "),
            url: urls::range(key, &from, &key.window, reversed),
        }),
        history,
        b_default: week_ago,
    })
}
