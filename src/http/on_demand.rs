//! Graphs rendered on request: `/range.svg` (windows `from..=to` merged) and `/diff.svg`
//! (inferno's differential graph of window `a` to window `b`), served gzip'd when the
//! client accepts it, with a strong ETag (the cache key of the inputs) and conditional GET.
//! The work itself is [`crate::on_demand`]; this file parses queries and shapes responses.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::State;
use crate::on_demand::{OnDemandError, Rendered, Series};
use crate::render::DiffMode;

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
    crate::layout::ALL.to_owned()
}

impl RangeQuery {
    /// Whether the reversed graph is asked for (`reversed=1` or `true`).
    pub fn is_reversed(&self) -> Result<bool, OnDemandError> {
        flag("reversed", self.reversed.as_deref())
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

/// A plain-text error response with the error's status.
pub fn error_text(error: &OnDemandError) -> HttpResponse {
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
            .range(&series, &q.from, &q.to, reversed)
            .await
    }
    .await;
    match result {
        Ok(graph) => svg_response(&req, graph),
        Err(e) => error_text(&e),
    }
}

/// `GET /diff.svg`.
pub async fn diff_svg(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let result = async {
        let q: DiffQuery = query(&req)?;
        let (series, mode) = diff_request(&q)?;
        state.on_demand.diff(&series, &q.a, &q.b, mode).await
    }
    .await;
    match result {
        Ok(graph) => svg_response(&req, graph),
        Err(e) => error_text(&e),
    }
}

/// Serve a rendered graph: 304 when the client has it, gzip'd when it accepts gzip,
/// decompressed otherwise.
fn svg_response(req: &HttpRequest, graph: Rendered) -> HttpResponse {
    let etag = format!("\"{}\"", graph.etag);
    let client_has_it = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
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
    if client_has_it {
        return response.finish();
    }
    let svg = match crate::compress::maybe_gunzip(&graph.svgz) {
        Ok(svg) => svg.into_owned(),
        Err(e) => {
            return error_text(&OnDemandError::Corrupt {
                path: "the rendered graph".into(),
                error: e.to_string(),
            })
        }
    };
    // inferno's own script (zoom, search) may run, by hash, and nothing else.
    let policy = super::security::svg_policy(&String::from_utf8_lossy(&svg));
    response
        .content_type("image/svg+xml")
        .insert_header((header::CONTENT_SECURITY_POLICY, policy));
    if accepts_gzip(req) {
        response
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(graph.svgz)
    } else {
        response.body(svg)
    }
}

/// Whether the client accepts a gzip'd body.
fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}
