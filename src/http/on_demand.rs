//! Graphs rendered on request: `/range.svg` (windows `from..=to` merged) and `/diff.svg`
//! (inferno's differential graph of window `a` to window `b`), served gzip'd when the
//! client accepts it, with a strong ETag (the cache key of the inputs) and conditional GET.
//! The pages around them, `/range` and `/diff`, embed those SVGs (so inferno's zoom and
//! search work) with links to each window's own graph. The work itself is
//! [`crate::graphs::on_demand`]; this file parses queries and shapes responses.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::html::{self, Layout, PageError, Section};
use super::{negotiate, State};
use crate::graphs::on_demand::{OnDemandError, Rendered, Series};
use crate::graphs::render::DiffMode;

/// Longest query string accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 2048;

/// Query of `/range` and `/range.svg`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// Period name.
    pub period: String,
    /// First window (included).
    pub from: String,
    /// Last window (included).
    pub to: String,
    /// Channel.
    pub channel: String,
    /// Entry point (default `all`).
    #[serde(default = "all")]
    pub entry: String,
    /// `1` for the reversed graph.
    #[serde(default)]
    pub reversed: Option<String>,
    /// `1` for an icicle graph (root at the top).
    #[serde(default)]
    pub icicle: Option<String>,
}

/// Query of `/diff` and `/diff.svg`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// Period name.
    pub period: String,
    /// The earlier window (before).
    pub a: String,
    /// The later window (after).
    pub b: String,
    /// Channel.
    pub channel: String,
    /// Entry point (default `all`).
    #[serde(default = "all")]
    pub entry: String,
    /// `share` (default) or `absolute`.
    #[serde(default)]
    pub mode: Option<String>,
}

fn all() -> String {
    crate::store::layout::ALL.to_owned()
}

impl RangeQuery {
    /// Whether the reversed graph is asked for (`reversed=1` or `true`).
    pub fn is_reversed(&self) -> Result<bool, OnDemandError> {
        flag("reversed", self.reversed.as_deref())
    }

    /// Whether an icicle graph (root at the top) was asked for.
    pub fn is_icicle(&self) -> Result<bool, OnDemandError> {
        flag("icicle", self.icicle.as_deref())
    }
}

impl DiffQuery {
    /// The comparison mode.
    pub fn diff_mode(&self) -> Result<DiffMode, OnDemandError> {
        match self.mode.as_deref() {
            None | Some("") | Some("share") => Ok(DiffMode::Share),
            Some("absolute") => Ok(DiffMode::Absolute),
            Some(other) => Err(OnDemandError::BadRequest(format!(
                "mode={other:?}: use share (the default) or absolute"
            ))),
        }
    }
}

/// A boolean query flag: absent, `0`/`false` or `1`/`true`.
pub fn flag(name: &str, value: Option<&str>) -> Result<bool, OnDemandError> {
    match value {
        None | Some("") | Some("0") | Some("false") => Ok(false),
        Some("1") | Some("true") => Ok(true),
        Some(other) => Err(OnDemandError::BadRequest(format!(
            "{name}={other:?}: use 1 or 0"
        ))),
    }
}

/// Parse the query string into `T`, bounded in size; the error says what is wrong.
pub fn query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, OnDemandError> {
    let text = req.query_string();
    if text.len() > MAX_QUERY_BYTES {
        return Err(OnDemandError::BadRequest(format!(
            "query string of {} bytes is longer than the {MAX_QUERY_BYTES} allowed",
            text.len()
        )));
    }
    web::Query::<T>::from_query(text)
        .map(web::Query::into_inner)
        .map_err(|e| OnDemandError::BadRequest(format!("bad query: {e}")))
}

/// A plain-text error response with the error's status, for a `kind` request (range,
/// diff): failures of the service's own are logged and counted.
pub fn error_text(kind: &'static str, error: &OnDemandError) -> HttpResponse {
    error.report(kind);
    let status = actix_web::http::StatusCode::from_u16(error.status())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if matches!(error, OnDemandError::Busy { .. }) {
        response.insert_header((header::RETRY_AFTER, "2"));
    }
    response
        .content_type("text/plain; charset=utf-8")
        .body(format!("{error}\n"))
}

/// The range's series and flags from its query.
pub fn range_request(q: &RangeQuery) -> Result<(Series, bool), OnDemandError> {
    Ok((
        Series::new(&q.period, &q.channel, &q.entry)?,
        q.is_reversed()?,
    ))
}

/// The diff's series and mode from its query.
pub fn diff_request(q: &DiffQuery) -> Result<(Series, DiffMode), OnDemandError> {
    Ok((
        Series::new(&q.period, &q.channel, &q.entry)?,
        q.diff_mode()?,
    ))
}

/// `GET /range.svg`.
pub async fn range_svg(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let result = async {
        let q: RangeQuery = query(&req)?;
        let (series, reversed) = range_request(&q)?;
        state
            .on_demand
            .get()
            .range(&series, &q.from, &q.to, reversed, q.is_icicle()?)
            .await
    }
    .await;
    match result {
        Ok(graph) => svg_response(&req, "range", graph),
        Err(e) => error_text("range", &e),
    }
}

/// `GET /diff.svg`.
pub async fn diff_svg(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let result = async {
        let q: DiffQuery = query(&req)?;
        let (series, mode) = diff_request(&q)?;
        state.on_demand.get().diff(&series, &q.a, &q.b, mode).await
    }
    .await;
    match result {
        Ok(graph) => svg_response(&req, "diff", graph),
        Err(e) => error_text("diff", &e),
    }
}

/// Serve a rendered graph (of a `kind` request): 304 when the client has it, gzip'd when
/// it accepts gzip, decompressed otherwise.
fn svg_response(req: &HttpRequest, kind: &'static str, graph: Rendered) -> HttpResponse {
    let etag = format!("\"{}\"", graph.etag);
    let client_has_it = client_has(req, &etag);
    let mut response = if client_has_it {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((
            "X-Arclamp-Cache",
            if graph.from_cache { "hit" } else { "miss" },
        ))
        .insert_header(("X-Arclamp-Windows", graph.windows.join(" ")));
    if let Some(summaries) = graph.summaries {
        // How many windows came from their range summary: what a cold range cost.
        response.insert_header((
            "X-Arclamp-Range-Summaries",
            format!("{summaries} of {}", graph.windows.len()),
        ));
    }
    if let Some(rolled_up) = graph.rolled_up {
        // How many of those came from roll-ups of whole blocks of windows.
        response.insert_header((
            "X-Arclamp-Range-Rollups",
            format!("{rolled_up} of {}", graph.windows.len()),
        ));
    }
    if client_has_it {
        return response.finish();
    }
    let svg = match crate::store::compress::maybe_gunzip(&graph.svgz) {
        Ok(svg) => svg.into_owned(),
        Err(e) => {
            return error_text(
                kind,
                &OnDemandError::Corrupt {
                    path: "the rendered graph".into(),
                    error: e.to_string(),
                },
            )
        }
    };
    // inferno's own script (zoom, search) may run, by hash, and nothing else.
    let policy = super::security::svg_policy(&String::from_utf8_lossy(&svg));
    response
        .content_type("image/svg+xml")
        .insert_header((header::CONTENT_SECURITY_POLICY, policy));
    if negotiate::request_accepts_gzip(req.headers()) {
        response
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(graph.svgz)
    } else {
        response.body(svg)
    }
}

/// Whether the request's `If-None-Match` names `etag` (quoted) or `*`.
pub fn client_has(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// Percent-encode a query value (everything but RFC 3986 unreserved characters).
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The graph page of one window (`/view/...`, served by [`super::view`]).
pub fn view_url(period: &str, window: &str, channel: &str, entry: &str) -> String {
    format!(
        "/view/{}/{}/{}/{}",
        url_encode(period),
        url_encode(window),
        url_encode(channel),
        url_encode(entry)
    )
}

/// One input of the compare form.
struct Field {
    label: &'static str,
    name: &'static str,
    value: String,
}

/// One option of a `<select>`.
pub struct Choice {
    /// The submitted value.
    pub value: String,
    /// What is shown.
    pub label: String,
    /// Preselected.
    pub selected: bool,
}

impl Choice {
    /// An option whose label is its value.
    pub fn plain(value: &str, selected: bool) -> Choice {
        Choice {
            value: value.to_owned(),
            label: value.to_owned(),
            selected,
        }
    }
}

/// A link under the form.
struct Link {
    href: String,
    text: String,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage {
    layout: Layout,
    heading: String,
    action: &'static str,
    period: String,
    channel: String,
    entry: String,
    fields: Vec<Field>,
    choice_label: &'static str,
    choice_name: &'static str,
    choices: Vec<Choice>,
    links: Vec<Link>,
    note: String,
    svg: String,
}

/// `path` (`/diff`, `/diff.folded`, ...) with the query naming windows `a` and `b` of
/// `series`.
fn diff_url(path: &str, series: &Series, a: &str, b: &str) -> String {
    format!(
        "{path}?period={}&a={}&b={}&channel={}&entry={}",
        url_encode(&series.period),
        url_encode(a),
        url_encode(b),
        url_encode(&series.channel),
        url_encode(&series.entry)
    )
}

/// The error page for a failed `kind` request (range, diff, trend); failures of the service's own
/// are logged and counted.
pub fn page_error(kind: &'static str) -> impl Fn(OnDemandError) -> PageError {
    move |e| {
        e.report(kind);
        match e.status() {
            404 => PageError::NotFound(e.to_string()),
            400 => PageError::BadRequest(e.to_string()),
            503 if matches!(e, OnDemandError::Busy { .. }) => PageError::Unavailable(
                "too many graphs are being computed (on_demand.max_concurrent_renders, \
                 on_demand.max_queued): retry in a few seconds",
            ),
            _ => PageError::Internal(e.to_string()),
        }
    }
}

/// `GET /diff`: the differential graph of two windows in a page, with one click to either
/// side's own graph.
pub async fn diff_page(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let q: DiffQuery = query(&req).map_err(page_error("diff"))?;
    let (series, mode) = diff_request(&q).map_err(page_error("diff"))?;
    let on_demand = state.on_demand.get();
    let period = on_demand
        .period(&series.period)
        .map_err(page_error("diff"))?;
    let mut starts = Vec::with_capacity(2);
    for (which, name) in [("a", &q.a), ("b", &q.b)] {
        let window = period.window_named(name).ok_or_else(|| {
            PageError::BadRequest(format!(
                "{which}={name:?} is not a {} window name (format {})",
                period.name(),
                period.format()
            ))
        })?;
        starts.push(window.start);
    }
    // The earlier window is "before", as the graph draws it.
    let (before, after) = if starts[1] < starts[0] {
        (q.b.clone(), q.a.clone())
    } else {
        (q.a.clone(), q.b.clone())
    };
    let mode_name = match mode {
        DiffMode::Share => "share",
        DiffMode::Absolute => "absolute",
    };
    let other_mode = match mode {
        DiffMode::Share => "absolute",
        DiffMode::Absolute => "share",
    };
    let link_to =
        |a: &str, b: &str, mode: &str| format!("{}&mode={mode}", diff_url("/diff", &series, a, b));
    let svg = link_to(&before, &after, mode_name).replacen("/diff?", "/diff.svg?", 1);
    let page = ComparePage {
        layout: Layout::new(format!("Diff {before} → {after}"), Section::Browse),
        heading: format!(
            "{} {before} → {after} ({} / {})",
            series.period, series.channel, series.entry
        ),
        action: "/diff",
        period: series.period.clone(),
        channel: series.channel.clone(),
        entry: series.entry.clone(),
        fields: vec![
            Field {
                label: "Before",
                name: "a",
                value: before.clone(),
            },
            Field {
                label: "After",
                name: "b",
                value: after.clone(),
            },
        ],
        choice_label: "Compare",
        choice_name: "mode",
        choices: vec![
            Choice {
                value: "share".into(),
                label: "share of samples".into(),
                selected: mode == DiffMode::Share,
            },
            Choice {
                value: "absolute".into(),
                label: "absolute samples".into(),
                selected: mode == DiffMode::Absolute,
            },
        ],
        links: vec![
            Link {
                href: view_url(&series.period, &before, &series.channel, &series.entry),
                text: format!("{before} (before) alone"),
            },
            Link {
                href: view_url(&series.period, &after, &series.channel, &series.entry),
                text: format!("{after} (after) alone"),
            },
            Link {
                href: link_to(&before, &after, other_mode),
                text: format!("compare {other_mode}"),
            },
            Link {
                href: diff_url("/diff.speedscope.json", &series, &before, &after),
                text: "speedscope JSON (before and after)".into(),
            },
            Link {
                href: diff_url("/diff.folded", &series, &before, &after),
                text: "folded diff".into(),
            },
        ],
        note: match mode {
            DiffMode::Share => "Widths are the after window's samples. Red: a larger share of samples than before; blue: smaller. The before window is scaled to the after window's total.".to_owned(),
            DiffMode::Absolute => "Widths are the after window's samples. Red: more samples than before; blue: fewer (raw counts).".to_owned(),
        },
        svg,
    };
    html::page(&page)
}

/// `GET /range`: windows `from..=to` merged into one graph, in a page.
pub async fn range_page(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let q: RangeQuery = query(&req).map_err(page_error("range"))?;
    let (series, reversed) = range_request(&q).map_err(page_error("range"))?;
    let on_demand = state.on_demand.get();
    let period = on_demand
        .period(&series.period)
        .map_err(page_error("range"))?;
    let windows =
        crate::graphs::range::windows_between(period, &q.from, &q.to, on_demand.max_range_span())
            .map_err(|e| PageError::BadRequest(e.to_string()))?;
    let icicle = q.is_icicle().map_err(page_error("range"))?;
    let svg = format!(
        "/range.svg?period={}&from={}&to={}&channel={}&entry={}{}{}",
        url_encode(&series.period),
        url_encode(&q.from),
        url_encode(&q.to),
        url_encode(&series.channel),
        url_encode(&series.entry),
        if reversed { "&reversed=1" } else { "" },
        if icicle { "&icicle=1" } else { "" }
    );
    let page = ComparePage {
        layout: Layout::new(format!("Range {} – {}", q.from, q.to), Section::Browse),
        heading: format!(
            "{} {} to {}: {} windows ({} / {}{})",
            series.period,
            q.from,
            q.to,
            windows.len(),
            series.channel,
            series.entry,
            if reversed { ", reversed" } else { "" }
        ),
        action: "/range",
        period: series.period.clone(),
        channel: series.channel.clone(),
        entry: series.entry.clone(),
        fields: vec![
            Field { label: "From", name: "from", value: q.from.clone() },
            Field { label: "To", name: "to", value: q.to.clone() },
        ],
        choice_label: "Direction",
        choice_name: "reversed",
        choices: vec![
            Choice {
                value: "0".into(),
                label: "forward".into(),
                selected: !reversed,
            },
            Choice {
                value: "1".into(),
                label: "reversed".into(),
                selected: reversed,
            },
        ],
        links: vec![
            Link {
                href: view_url(&series.period, &q.from, &series.channel, &series.entry),
                text: format!("{} alone", q.from),
            },
            Link {
                href: view_url(&series.period, &q.to, &series.channel, &series.entry),
                text: format!("{} alone", q.to),
            },
        ],
        note: "Windows without a log are skipped. Each window is read from its range summary (written when it was rendered; frames are within 1/20 of the narrowest drawn frame of exact) or else its log. Rendered on request and cached until one of them changes.".to_owned(),
        svg,
    };
    html::page(&page)
}
