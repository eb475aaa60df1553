//! The leaderboard of functions on CPU: `/top` (page) and `/api/top` (JSON). The numbers
//! come from [`crate::graphs::on_demand::OnDemand::top`], shared with `arclamp top`.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::html::{self, Layout, PageError, Section};
use super::on_demand::{query, url_encode, view_url, Choice};
use super::State;
use crate::graphs::on_demand::{OnDemandError, Series, TopReport};

pub use crate::graphs::top::DEFAULT_LIMIT;

/// Query of `/top` and `/api/top`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopQuery {
    /// Period name.
    pub period: String,
    /// Window name.
    pub window: String,
    /// Channel.
    pub channel: String,
    /// Entry point (default `all`).
    #[serde(default = "all")]
    pub entry: String,
    /// Only functions matching this regular expression.
    #[serde(default)]
    pub grep: Option<String>,
    /// Most rows (default 50, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}

fn all() -> String {
    crate::store::layout::ALL.to_owned()
}

/// Compute the leaderboard a query asks for.
pub async fn answer(state: &State, q: TopQuery) -> Result<TopReport, OnDemandError> {
    let series = Series::new(&q.period, &q.channel, &q.entry)?;
    state
        .on_demand
        .get()
        .top_report(&series, &q.window, q.grep, q.limit.unwrap_or(DEFAULT_LIMIT))
        .await
}

/// `GET /api/top`.
pub async fn api_top(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let result = async {
        let q: TopQuery = query(&req)?;
        answer(&state, q).await
    }
    .await;
    match result {
        Ok(answer) => HttpResponse::Ok().json(answer),
        Err(e) => error_json("top", &e),
    }
}

/// A JSON error body `{"error": "..."}` with the error's status; failures of the
/// service's own are logged and counted.
pub fn error_json(kind: &'static str, error: &OnDemandError) -> HttpResponse {
    error.report(kind);
    let status = actix_web::http::StatusCode::from_u16(error.status())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if matches!(error, OnDemandError::Busy { .. }) {
        response.insert_header((actix_web::http::header::RETRY_AFTER, "2"));
    }
    response.json(serde_json::json!({ "error": error.to_string() }))
}

/// The `/top` form as sent by a browser: every field optional, empty fields allowed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopForm {
    period: Option<String>,
    window: Option<String>,
    channel: Option<String>,
    entry: Option<String>,
    grep: Option<String>,
    limit: Option<String>,
}

/// The form's values as shown back (period and channel through their `<select>`s).
struct FormValues {
    window: String,
    entry: String,
    grep: String,
    limit: String,
}

struct TopRow {
    samples: u64,
    percent: String,
    function: String,
    trend: String,
}

#[derive(Template)]
#[template(path = "top.html")]
struct TopPage {
    layout: Layout,
    periods: Vec<Choice>,
    channels: Vec<Choice>,
    query: FormValues,
    error: Option<String>,
    report: Option<TopReport>,
    rows: Vec<TopRow>,
    graph_link: String,
    json_link: String,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// `GET /top`: the leaderboard as a page (a form, and the table once a window is given).
pub async fn top_page(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let site = state.site().await?;
    let form: TopForm = query(&req).map_err(|e| PageError::BadRequest(e.to_string()))?;
    let first_period = site
        .periods
        .iter()
        .find(|p| p.name() == "daily")
        .or(site.periods.first());
    let period = non_empty(form.period)
        .or_else(|| first_period.map(|p| p.name().to_owned()))
        .unwrap_or_default();
    let window_given = non_empty(form.window);
    let window = window_given.clone().unwrap_or_else(|| {
        site.period(&period)
            .map(|p| p.window_at(site.clock.now()).name)
            .unwrap_or_default()
    });
    let channel = non_empty(form.channel)
        .or_else(|| site.channels.first().cloned())
        .unwrap_or_default();
    let entry = non_empty(form.entry).unwrap_or_else(|| crate::store::layout::ALL.to_owned());
    let grep = non_empty(form.grep);
    let limit_text = non_empty(form.limit).unwrap_or_else(|| DEFAULT_LIMIT.to_string());
    let mut status = actix_web::http::StatusCode::OK;
    let mut error = None;
    let mut report = None;
    if window_given.is_some() {
        let result = async {
            let limit = limit_text.trim().parse::<usize>().map_err(|_| {
                OnDemandError::BadRequest(format!("limit={limit_text:?} is not a number"))
            })?;
            let series = Series::new(&period, &channel, &entry)?;
            state
                .on_demand
                .get()
                .top_report(&series, &window, grep.clone(), limit)
                .await
        }
        .await;
        match result {
            Ok(r) => report = Some(r),
            Err(e) => {
                e.report("top");
                status = actix_web::http::StatusCode::from_u16(e.status())
                    .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
                error = Some(e.to_string());
            }
        }
    }
    let rows = report
        .as_ref()
        .map(|r| {
            r.board
                .rows
                .iter()
                .map(|row| TopRow {
                    samples: row.samples,
                    percent: format!("{:.2}", row.percent),
                    function: row.function.clone(),
                    trend: super::trend::trend_url(
                        &r.period,
                        &r.channel,
                        &r.entry,
                        &row.function,
                        &r.window,
                    ),
                })
                .collect()
        })
        .unwrap_or_default();
    let encoded = |v: &str| url_encode(v);
    let json_link = format!(
        "/api/top?period={}&window={}&channel={}&entry={}{}&limit={}",
        encoded(&period),
        encoded(&window),
        encoded(&channel),
        encoded(&entry),
        grep.as_deref()
            .map(|g| format!("&grep={}", encoded(g)))
            .unwrap_or_default(),
        encoded(&limit_text),
    );
    let graph_link = view_url(&period, &window, &channel, &entry);
    let page = TopPage {
        layout: Layout::new("Top functions", Section::Top),
        periods: site
            .periods
            .iter()
            .map(|p| Choice::plain(p.name(), p.name() == period))
            .collect(),
        channels: site
            .channels
            .iter()
            .map(|c| Choice::plain(c, *c == channel))
            .collect(),
        query: FormValues {
            window,
            entry,
            grep: grep.unwrap_or_default(),
            limit: limit_text,
        },
        error,
        report,
        rows,
        graph_link,
        json_link,
    };
    html::render(status, &page)
}
