//! `/api/index.json`: every stored graph and log with its window, channel, entry point,
//! function, direction, size, last modification and sample count, filterable by query
//! parameters, plus the windows still being aggregated. Answered from listings and the
//! checkpoint summaries: no log is decompressed.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::html::PageError;
use super::listing::live_windows;
use super::{keys, State};
use crate::store::catalogue::FileKind;

/// Items per answer unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 1000;
/// The largest `limit` accepted.
const MAX_LIMIT: usize = 10_000;

/// The query parameters of `/api/index.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexQuery {
    /// Only this period.
    pub period: Option<String>,
    /// Only this channel.
    pub channel: Option<String>,
    /// Only this entry point.
    pub entry: Option<String>,
    /// Only this function graph's label (`function=` alone: only whole-window files).
    pub function: Option<String>,
    /// Only graphs (`graph`) or logs (`log`).
    pub kind: Option<FileKind>,
    /// Only reversed (`true`) or forward (`false`) graphs.
    pub reversed: Option<bool>,
    /// Windows starting at or after this window's start (needs `period`).
    pub from: Option<String>,
    /// Windows starting at or before this window's start (needs `period`).
    pub to: Option<String>,
    /// Skip this many items (pagination).
    pub offset: Option<usize>,
    /// At most this many items (default 1000, at most 10000).
    pub limit: Option<usize>,
}

/// One file in the answer.
#[derive(Debug, Serialize)]
pub struct IndexItem {
    kind: FileKind,
    period: String,
    window: String,
    window_start: DateTime<Utc>,
    channel: String,
    entry: String,
    function: Option<String>,
    reversed: bool,
    url: String,
    bytes: u64,
    /// Stored, or made from the window's `all` log on request (an entry point's log and
    /// graphs).
    stored: bool,
    last_modified: DateTime<Utc>,
    /// Samples in the window's log (for logs and whole-window graphs; `null` for
    /// function graphs and logs written before summaries existed).
    samples: Option<u64>,
    /// Distinct stacks in the window's log, like `samples`.
    stacks: Option<u64>,
    live: bool,
}

/// A window still being aggregated.
#[derive(Debug, Serialize)]
pub struct LiveWindow {
    period: String,
    window: String,
    /// The newest checkpoint among the window's logs, if one was written yet.
    last_checkpoint: Option<DateTime<Utc>>,
}

/// The whole answer.
#[derive(Debug, Serialize)]
pub struct IndexAnswer {
    /// Matching items before pagination.
    total: usize,
    offset: usize,
    limit: usize,
    items: Vec<IndexItem>,
    live: Vec<LiveWindow>,
}

/// An API error: the page error's status, with a JSON body `{"error": "..."}`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] PageError);

impl From<keys::KeyError> for ApiError {
    fn from(e: keys::KeyError) -> Self {
        ApiError(e.into())
    }
}

impl From<crate::store::storage::StorageError> for ApiError {
    fn from(e: crate::store::storage::StorageError) -> Self {
        ApiError(e.into())
    }
}

impl actix_web::ResponseError for ApiError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.json_response()
    }
}

/// `GET /api/index.json`.
pub async fn index(
    state: web::Data<State>,
    query: web::Query<IndexQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let site = state.site().await?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(
            PageError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}")).into(),
        );
    }
    let offset = query.offset.unwrap_or(0);
    let periods: Vec<_> = match &query.period {
        Some(name) => vec![keys::period(&site, name)?],
        None => site.periods.iter().collect(),
    };
    let (from, to) = match (&query.from, &query.to, periods.as_slice()) {
        (None, None, _) => (None, None),
        (from, to, [period]) => (
            from.as_deref()
                .map(|w| keys::window(period, w))
                .transpose()?,
            to.as_deref().map(|w| keys::window(period, w)).transpose()?,
        ),
        _ => {
            return Err(PageError::BadRequest(
                "from and to are window names of one period: add period=".into(),
            )
            .into())
        }
    };
    for (what, value) in [("channel", &query.channel), ("function", &query.function)] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            keys::name(what, value)?;
        }
    }
    if let Some(entry) = &query.entry {
        keys::entry(entry)?;
    }
    let live = live_windows(state.live.as_ref()).await;
    let mut matched = Vec::new();
    let mut live_answer = Vec::new();
    for period in periods {
        let files = state
            .listings
            .period(state.storage.as_ref(), period)
            .await?;
        for window in &files.windows {
            let is_live = live.contains(&(period.name().to_owned(), window.window.name.clone()));
            if is_live {
                live_answer.push(LiveWindow {
                    period: period.name().to_owned(),
                    window: window.window.name.clone(),
                    last_checkpoint: window
                        .items
                        .iter()
                        .filter(|i| i.kind == FileKind::Log)
                        .map(|i| DateTime::<Utc>::from(i.modified))
                        .max(),
                });
            }
            if from.as_ref().is_some_and(|f| window.window.start < f.start)
                || to.as_ref().is_some_and(|t| window.window.start > t.start)
            {
                continue;
            }
            for item in &window.items {
                let keep = query
                    .channel
                    .as_ref()
                    .is_none_or(|c| *c == item.key.channel)
                    && query.entry.as_ref().is_none_or(|e| *e == item.key.entry)
                    && query.kind.is_none_or(|k| k == item.kind)
                    && query.reversed.is_none_or(|r| r == item.reversed)
                    && query.function.as_ref().is_none_or(|f| {
                        (f.is_empty() && item.function.is_none())
                            || item.function.as_deref() == Some(f.as_str())
                    });
                if keep {
                    matched.push((files.clone(), window.window.start, item.clone(), is_live));
                }
            }
        }
    }
    let total = matched.len();
    let mut items = Vec::new();
    for (files, start, item, is_live) in matched.into_iter().skip(offset).take(limit) {
        let summary = if item.function.is_none() {
            state
                .listings
                .summary(state.storage.as_ref(), &files, &item.key.log_path())
                .await
        } else {
            None
        };
        items.push(IndexItem {
            kind: item.kind,
            period: item.key.period,
            window: item.key.window,
            window_start: start,
            channel: item.key.channel,
            entry: item.key.entry,
            function: item.function,
            reversed: item.reversed,
            url: format!("/{}", item.path),
            bytes: item.bytes,
            stored: item.stored,
            last_modified: DateTime::<Utc>::from(item.modified),
            samples: summary.map(|s| s.samples),
            stacks: summary.map(|s| s.stacks),
            live: is_live,
        });
    }
    Ok(HttpResponse::Ok().json(IndexAnswer {
        total,
        offset,
        limit,
        items,
        live: live_answer,
    }))
}
