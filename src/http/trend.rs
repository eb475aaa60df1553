//! One function's share of samples over many windows: `/trend` (a line chart) and
//! `/api/trend.json` (the series). The numbers come from
//! [`crate::graphs::on_demand::OnDemand::trend`], which reads the windows' function totals.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::html::{self, Layout, PageError, Section};
use super::on_demand::{page_error, query, url_encode};
use super::top::error_json;
use super::State;
use crate::graphs::on_demand::{OnDemandError, Series, Trend};
use crate::graphs::trend::chart_svg;

/// Windows a trend covers when `from` is not given: `to` and the 29 before it.
pub const DEFAULT_WINDOWS: i64 = 30;

/// Query of `/trend` and `/api/trend.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendQuery {
    /// Period name.
    pub period: String,
    /// Channel.
    pub channel: String,
    /// Entry point (default `all`).
    #[serde(default = "all")]
    pub entry: String,
    /// The function, as the leaderboard names it.
    pub function: String,
    /// First window (default: 29 windows before `to`).
    #[serde(default)]
    pub from: Option<String>,
    /// Last window (default: the current one).
    #[serde(default)]
    pub to: Option<String>,
}

fn all() -> String {
    crate::store::layout::ALL.to_owned()
}

/// The trend a query asks for, with the defaults of `from` and `to` (the window at `now`)
/// filled in.
async fn answer(state: &State, q: &TrendQuery, now: DateTime<Utc>) -> Result<Trend, OnDemandError> {
    let on_demand = state.on_demand.get();
    let period = on_demand.period(&q.period)?;
    let to = match &q.to {
        Some(to) => to.clone(),
        None => period.window_at(now).name,
    };
    let from = match &q.from {
        Some(from) => from.clone(),
        None => period
            .window_named(&to)
            .and_then(|w| period.window_with_index(period.window_index(&w) - (DEFAULT_WINDOWS - 1)))
            .map_or_else(|| to.clone(), |w| w.name),
    };
    let series = Series::new(&q.period, &q.channel, &q.entry)?;
    on_demand.trend(&series, &q.function, &from, &to).await
}

/// The `/trend` URL of `function` in `series` over the windows up to `to`.
pub fn trend_url(period: &str, channel: &str, entry: &str, function: &str, to: &str) -> String {
    format!(
        "/trend?period={}&channel={}&entry={}&function={}&to={}",
        url_encode(period),
        url_encode(channel),
        url_encode(entry),
        url_encode(function),
        url_encode(to)
    )
}

/// `GET /api/trend.json`.
pub async fn api_trend(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let site = match state.site().await {
        Ok(site) => site,
        Err(e) => {
            return HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "error": e.to_string() }))
        }
    };
    let result = async {
        let q: TrendQuery = query(&req)?;
        answer(&state, &q, site.clock.now()).await
    }
    .await;
    match result {
        Ok(trend) => HttpResponse::Ok()
            .insert_header(("Access-Control-Allow-Origin", "*"))
            .json(trend),
        Err(e) => error_json("trend", &e),
    }
}

#[derive(Template)]
#[template(path = "trend.html")]
struct TrendPage {
    layout: Layout,
    trend: Trend,
    chart: String,
    min: String,
    max: String,
    json_link: String,
    spans: Vec<(String, String)>,
}

/// `GET /trend`: the chart, with links to other spans and to the JSON.
pub async fn trend_page(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, PageError> {
    let site = state.site().await?;
    let q: TrendQuery = query(&req).map_err(|e| PageError::BadRequest(e.to_string()))?;
    let trend = answer(&state, &q, site.clock.now())
        .await
        .map_err(page_error("trend"))?;
    let percents: Vec<f64> = trend.points.iter().filter_map(|p| p.percent).collect();
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2} %"));
    let min = fmt(percents.iter().copied().reduce(f64::min));
    let max = fmt(percents.iter().copied().reduce(f64::max));
    let query_of = |from: Option<&str>| {
        format!(
            "period={}&channel={}&entry={}&function={}{}&to={}",
            url_encode(&trend.period),
            url_encode(&trend.channel),
            url_encode(&trend.entry),
            url_encode(&trend.function),
            from.map(|f| format!("&from={}", url_encode(f)))
                .unwrap_or_default(),
            url_encode(&trend.to)
        )
    };
    let json_link = format!("/api/trend.json?{}", query_of(Some(&trend.from)));
    let on_demand = state.on_demand.get();
    let spans = on_demand
        .period(&trend.period)
        .ok()
        .and_then(|period| {
            let to = period.window_named(&trend.to)?;
            let index = period.window_index(&to);
            Some(
                [
                    (30, "30 windows"),
                    (90, "90 windows"),
                    (365, "365 windows"),
                    (730, "730 windows"),
                ]
                .into_iter()
                .filter_map(|(n, label)| {
                    let from = period.window_with_index(index - (n - 1))?;
                    Some((
                        label.to_owned(),
                        format!("/trend?{}", query_of(Some(&from.name))),
                    ))
                })
                .collect(),
            )
        })
        .unwrap_or_default();
    let page = TrendPage {
        layout: Layout::new(format!("Trend of {}", trend.function), Section::Top),
        chart: chart_svg(&trend.points, 900, 260),
        min,
        max,
        json_link,
        spans,
        trend,
    };
    html::render(actix_web::http::StatusCode::OK, &page)
}
