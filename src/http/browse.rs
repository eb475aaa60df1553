//! `/`: the browser. The quick form (date, source channel, entry point or function graph,
//! direction; `/go` turns it into a graph page URL) beside the full listing of one period:
//! newest windows first, a page at a time, each window's entry points with links to their
//! graphs and logs, live windows marked with their last checkpoint, sizes and sample
//! counts. Filter by entry point and jump to a date. Works without JavaScript.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use serde::Deserialize;

use super::html::{self, page, Layout, PageError, Section};
use super::listing::live_windows;
use super::{keys, urls, SiteSettings, State};
use crate::ingest::window::Period;
use crate::store::catalogue::FileKind;
use crate::store::layout::ALL;

/// Windows per listing page.
const WINDOWS_PER_PAGE: usize = 24;
/// Days offered as one-click links in the quick form.
const RECENT_DAYS: u64 = 7;

/// Query of `/`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowseQuery {
    /// The listed period.
    pub period: Option<String>,
    /// Only this entry point's rows.
    pub entry: Option<String>,
    /// Jump: list from the newest window that starts on or before this date.
    pub date: Option<String>,
    /// Skip this many windows (pagination).
    pub skip: Option<usize>,
}

/// One graph link in a listing row.
pub struct GraphLink {
    /// What the link says.
    pub label: String,
    /// Graph page URL.
    pub url: String,
}

/// One (channel, entry point) of a window.
pub struct Row {
    /// Channel.
    pub channel: String,
    /// Entry point.
    pub entry: String,
    /// Forward and reversed graph pages, function graphs.
    pub graphs: Vec<GraphLink>,
    /// Raw log URL, when a log is stored.
    pub log_url: Option<String>,
    /// Log size in bytes.
    pub log_bytes: Option<u64>,
    /// Samples in the log, when its summary is known.
    pub samples: Option<u64>,
}

/// One window in the listing.
pub struct WindowBlock {
    /// Window name as shown.
    pub title: String,
    /// Still being aggregated.
    pub live: bool,
    /// Newest checkpoint of its logs (UTC, to the second).
    pub last_checkpoint: Option<String>,
    /// Its rows.
    pub rows: Vec<Row>,
}

/// One recent day offered in the quick form.
pub struct Day {
    /// `2026-11-23`.
    pub date: String,
    /// `Mon 23`.
    pub label: String,
}

#[derive(Template)]
#[template(path = "browse.html")]
struct BrowsePage {
    layout: Layout,
    periods: Vec<String>,
    period: String,
    channels: Vec<String>,
    entries: Vec<String>,
    functions: Vec<String>,
    yesterday: String,
    days: Vec<Day>,
    entry_filter: String,
    date: String,
    windows: Vec<WindowBlock>,
    total_windows: usize,
    first_shown: usize,
    newer_url: Option<String>,
    older_url: Option<String>,
}

/// The period listed (and used by the quick form) when none is asked for: `daily` when
/// configured, otherwise the first one.
fn default_period(site: &SiteSettings) -> Result<&Period, PageError> {
    site.period("daily")
        .or_else(|| site.periods.first())
        .ok_or_else(|| PageError::Internal("no period is configured".into()))
}

fn parse_date(value: &str) -> Result<NaiveDate, PageError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| PageError::BadRequest(format!("{value:?} is not a date: use YYYY-MM-DD")))
}

fn format_time(t: std::time::SystemTime) -> String {
    DateTime::<Utc>::from(t)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// `GET /`.
pub async fn browse(
    state: web::Data<State>,
    query: web::Query<BrowseQuery>,
) -> Result<HttpResponse, PageError> {
    let query = query.into_inner();
    let site = state.site().await?;
    let period = match query.period.as_deref().filter(|p| !p.is_empty()) {
        Some(name) => keys::period(&site, name)?,
        None => default_period(&site)?,
    };
    let entry_filter = match query.entry.as_deref().filter(|e| !e.is_empty()) {
        Some(entry) => Some(keys::entry(entry)?.to_owned()),
        None => None,
    };
    let jump = query
        .date
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(parse_date)
        .transpose()?;
    let files = state
        .listings
        .period(state.storage.as_ref(), period)
        .await?;
    let live = live_windows(state.live.as_ref()).await;

    let entries: BTreeSet<String> = files
        .windows
        .iter()
        .flat_map(|w| w.items.iter().map(|i| i.key.entry.clone()))
        .collect();
    let first = match jump {
        Some(date) => {
            let end = date
                .checked_add_days(Days::new(1))
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            files
                .windows
                .iter()
                .position(|w| w.window.start < end)
                .unwrap_or(files.windows.len())
        }
        None => query.skip.unwrap_or(0).min(files.windows.len()),
    };
    let mut windows = Vec::new();
    for window in files.windows.iter().skip(first).take(WINDOWS_PER_PAGE) {
        let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
        let mut last_checkpoint = None;
        for item in &window.items {
            if entry_filter.as_ref().is_some_and(|e| *e != item.key.entry) {
                continue;
            }
            let row = rows
                .entry((item.key.channel.clone(), item.key.entry.clone()))
                .or_insert_with(|| Row {
                    channel: item.key.channel.clone(),
                    entry: item.key.entry.clone(),
                    graphs: Vec::new(),
                    log_url: None,
                    log_bytes: None,
                    samples: None,
                });
            match item.kind {
                FileKind::Log => {
                    row.log_url = Some(format!("/{}", item.path));
                    row.log_bytes = item.stored.then_some(item.bytes);
                    last_checkpoint = last_checkpoint.max(Some(item.modified));
                    row.samples = state
                        .listings
                        .summary(state.storage.as_ref(), &files, &item.path)
                        .await
                        .map(|s| s.samples);
                }
                FileKind::Graph => {
                    let direction = if item.reversed { "reversed" } else { "forward" };
                    let label = match &item.function {
                        Some(f) => format!("{f} {direction}"),
                        None => direction.to_owned(),
                    };
                    row.graphs.push(GraphLink {
                        label,
                        url: urls::view(&item.key, item.function.as_deref(), item.reversed),
                    });
                }
            }
        }
        let is_live = live.contains(&(period.name().to_owned(), window.window.name.clone()));
        windows.push(WindowBlock {
            title: window.window.display_name(),
            live: is_live,
            last_checkpoint: last_checkpoint.map(format_time),
            rows: rows.into_values().collect(),
        });
    }
    let listing_url = |skip: usize| {
        let mut url = format!("/?period={}&skip={skip}", period.name());
        if let Some(e) = &entry_filter {
            url.push_str(&format!("&entry={e}"));
        }
        url
    };
    let newer_url = (first > 0).then(|| listing_url(first.saturating_sub(WINDOWS_PER_PAGE)));
    let older_url = (first + WINDOWS_PER_PAGE < files.windows.len())
        .then(|| listing_url(first + WINDOWS_PER_PAGE));

    let today = site.clock.now().date_naive();
    let days: Vec<Day> = (1..=RECENT_DAYS)
        .filter_map(|back| today.checked_sub_days(Days::new(back)))
        .map(|d| Day {
            date: d.format("%Y-%m-%d").to_string(),
            label: d.format("%a %d").to_string(),
        })
        .collect();
    let mut quick_entries: Vec<String> = entries.iter().cloned().collect();
    if !quick_entries.iter().any(|e| e == ALL) {
        quick_entries.insert(0, ALL.to_owned());
    }
    page(&BrowsePage {
        layout: Layout::new("Flame graphs", Section::Browse),
        periods: site.periods.iter().map(|p| p.name().to_owned()).collect(),
        period: period.name().to_owned(),
        channels: site.channels.clone(),
        entries: quick_entries,
        functions: site.functions.clone(),
        yesterday: days.first().map(|d| d.date.clone()).unwrap_or_default(),
        days,
        entry_filter: entry_filter.unwrap_or_default(),
        date: query.date.unwrap_or_default(),
        windows,
        total_windows: files.windows.len(),
        first_shown: first,
        newer_url,
        older_url,
    })
}

/// Query of `/go` (the quick form).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoQuery {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Optional hour (`00`–`23`): picks the hourly window instead of the day's.
    pub hour: Option<String>,
    /// Channel.
    pub channel: String,
    /// Entry point, or `fn:LABEL` for a function graph.
    pub graph: String,
    /// `1` for the reversed graph.
    pub reversed: Option<String>,
}

/// The configured period whose windows last `length` at instant `t`, if any.
fn period_of_length(site: &SiteSettings, t: DateTime<Utc>, length: TimeDelta) -> Option<&Period> {
    site.periods.iter().find(|p| {
        let w = p.window_at(t);
        w.end - w.start == length
    })
}

/// `GET /go`: the quick form's answer, a redirect to the graph page it names.
pub async fn go(
    state: web::Data<State>,
    query: web::Query<GoQuery>,
) -> Result<HttpResponse, PageError> {
    let site = state.site().await?;
    let date = parse_date(&query.date)?;
    let hour = match query.hour.as_deref().filter(|h| !h.is_empty()) {
        Some(h) => Some(
            h.parse::<u32>()
                .ok()
                .filter(|h| *h < 24)
                .ok_or_else(|| PageError::BadRequest(format!("hour {h:?} is not 00-23")))?,
        ),
        None => None,
    };
    let at = date
        .and_hms_opt(hour.unwrap_or(12), 0, 0)
        .map(|t| t.and_utc())
        .ok_or_else(|| PageError::BadRequest("invalid date".into()))?;
    let period = match hour {
        Some(_) => period_of_length(&site, at, TimeDelta::hours(1)),
        None => period_of_length(&site, at, TimeDelta::days(1)),
    }
    .or_else(|| default_period(&site).ok())
    .ok_or_else(|| PageError::Internal("no period is configured".into()))?;
    let window = period.window_at(at);
    let (entry, function) = match query.graph.strip_prefix("fn:") {
        Some(label) => (ALL, Some(label)),
        None => (query.graph.as_str(), None),
    };
    let reversed = html::is_on(query.reversed.as_deref());
    let graph = keys::graph(
        &site,
        period.name(),
        &window.name,
        &query.channel,
        entry,
        function,
        reversed,
    )?;
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            urls::view(&graph.key, graph.kind.function.as_deref(), reversed),
        ))
        .finish())
}
