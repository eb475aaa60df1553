//! The runtime dashboard: `/status` (a server-rendered page that `static/status.js`
//! refreshes in place) and `/api/status` (the JSON it polls). Both built by
//! [`crate::ops::status::report`] from the metrics registry and the live view's overview.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::assets;
use super::html::{self, Layout, PageError, Section};
use super::State;
use crate::ops::status::{StatusReport, StreamReport};

/// Take a report now.
pub async fn snapshot(state: &State) -> Option<StatusReport> {
    let overview = state.live.overview().await?;
    let series = crate::ops::exposition::parse(&state.metrics.render());
    let now = crate::ops::events::unix_seconds(std::time::SystemTime::now());
    Some(crate::ops::status::report(&series, overview, now))
}

/// `GET /api/status`.
pub async fn api_status(state: web::Data<State>) -> HttpResponse {
    match snapshot(&state).await {
        Some(report) => HttpResponse::Ok()
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .json(report),
        None => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"error": "the actor system is not answering"})),
    }
}

/// What `templates/status.html` shows, formatted (the page's script refreshes it live).
pub struct StatusView {
    taken_at: String,
    redis_connected: bool,
    redis_url: String,
    channels: String,
    reconnects: String,
    channel_rows: Vec<ChannelRow>,
    period_rows: Vec<PeriodRow>,
    queue_depth: String,
    checkpoint_failures: String,
    render_failures: String,
    restarts: Vec<(String, String)>,
    config_generation: u64,
    config_digest: String,
    config_applied: String,
    last_reload: String,
    last_reload_failed: bool,
    stream: Option<StreamView>,
}

/// The stream-mode section: the group per stream, then this replica's part.
struct StreamView {
    rows: Vec<StreamRow>,
    lease: &'static str,
    epoch: String,
    uncommitted: String,
    commits: String,
    acked: String,
    claimed: String,
    last_commit: String,
}

struct StreamRow {
    channel: String,
    length: String,
    lag: String,
    pending: String,
    consumers: String,
    open_windows: String,
    oldest_open: String,
    lost: String,
}

struct ChannelRow {
    channel: String,
    received: String,
    reasons: String,
}

struct PeriodRow {
    period: String,
    aggregators: String,
    stacks: String,
    last_checkpoint: String,
    last_render: String,
    log_bytes: String,
    graph_bytes: String,
    oldest: String,
    newest: String,
}

fn count(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.0}")
    } else {
        "–".to_owned()
    }
}

fn time(seconds: Option<f64>) -> String {
    seconds
        .filter(|s| s.is_finite())
        .and_then(|s| chrono::DateTime::from_timestamp(s as i64, 0))
        .map_or_else(
            || "never".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        )
}

fn maybe_count(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), count)
}

fn by_kind(values: &std::collections::BTreeMap<String, f64>) -> String {
    let parts: Vec<String> = values
        .iter()
        .filter(|(_, n)| **n > 0.0)
        .map(|(kind, n)| format!("{kind}: {}", count(*n)))
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

impl StreamView {
    fn of(report: &StreamReport) -> StreamView {
        StreamView {
            rows: report
                .channels
                .iter()
                .map(|c| StreamRow {
                    channel: c.channel.clone(),
                    length: maybe_count(c.length),
                    lag: maybe_count(c.lag),
                    pending: maybe_count(c.pending),
                    consumers: format!(
                        "{} of {}",
                        maybe_count(c.active_consumers),
                        maybe_count(c.consumers)
                    ),
                    open_windows: maybe_count(c.open_windows),
                    oldest_open: c
                        .oldest_open_window_end
                        .map_or("–".to_owned(), |t| time(Some(t))),
                    lost: by_kind(&c.lost),
                })
                .collect(),
            lease: if report.lease_held {
                "held by this replica"
            } else {
                "held by another replica"
            },
            epoch: count(report.epoch),
            uncommitted: count(report.uncommitted_entries),
            commits: by_kind(&report.commits),
            acked: count(report.entries_acked),
            claimed: count(report.entries_claimed),
            last_commit: time(report.last_commit),
        }
    }
}

fn size(bytes: Option<f64>) -> String {
    let Some(mut value) = bytes.filter(|b| b.is_finite()) else {
        return "–".to_owned();
    };
    let mut unit = 0;
    let units = ["B", "KB", "MB", "GB", "TB"];
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

impl StatusView {
    fn of(report: &StatusReport) -> StatusView {
        let overview = &report.overview;
        let (last_reload, last_reload_failed) = match &overview.last_reload {
            None => ("none since start".to_owned(), false),
            Some(reload) => match &reload.error {
                None => (format!("applied at {}", time(Some(reload.at))), false),
                Some(error) => (
                    format!("refused at {}: {error}", time(Some(reload.at))),
                    true,
                ),
            },
        };
        StatusView {
            taken_at: time(Some(report.time)),
            redis_connected: report.redis_connected,
            redis_url: overview.redis_url.clone(),
            channels: overview.channels.join(", "),
            reconnects: count(report.redis_reconnects),
            channel_rows: report
                .channels
                .iter()
                .map(|c| ChannelRow {
                    channel: c.channel.clone(),
                    received: count(c.samples_received),
                    reasons: by_kind(&c.rejected),
                })
                .collect(),
            period_rows: report
                .periods
                .iter()
                .map(|p| PeriodRow {
                    period: p.period.clone(),
                    aggregators: count(p.active_aggregators),
                    stacks: count(p.distinct_stacks),
                    last_checkpoint: time(p.last_checkpoint),
                    last_render: time(p.last_render),
                    log_bytes: size(p.log_bytes),
                    graph_bytes: size(p.graph_bytes),
                    oldest: p.oldest_window.map_or("–".to_owned(), |t| time(Some(t))),
                    newest: p.newest_window.map_or("–".to_owned(), |t| time(Some(t))),
                })
                .collect(),
            queue_depth: count(report.render_queue_depth),
            checkpoint_failures: count(report.checkpoint_failures),
            render_failures: count(report.render_failures),
            restarts: report
                .actor_restarts
                .iter()
                .map(|(kind, n)| (kind.clone(), count(*n)))
                .collect(),
            config_generation: overview.config_generation,
            config_digest: overview.config_digest.clone(),
            config_applied: time(Some(overview.config_applied_at)),
            last_reload,
            last_reload_failed,
            stream: report.stream.as_ref().map(StreamView::of),
        }
    }
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    layout: Layout,
    view: StatusView,
    script: String,
}

/// `GET /status`: the runtime dashboard, rendered on the server and refreshed in place by
/// `static/status.js` polling `/api/status`.
pub async fn status_page(state: web::Data<State>) -> Result<HttpResponse, PageError> {
    let report = snapshot(&state)
        .await
        .ok_or(PageError::Unavailable("the actor system is not answering"))?;
    html::page(&StatusPage {
        layout: Layout::new("Status", Section::Status),
        view: StatusView::of(&report),
        script: assets::url("status.js"),
    })
}
