//! The leaderboard of functions on CPU: `/api/top` (JSON). The numbers come from
//! [`crate::on_demand::OnDemand::top`], shared with `arclamp top`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::on_demand::query;
use super::State;
use crate::on_demand::{OnDemandError, Series, TopReport};

pub use crate::top::DEFAULT_LIMIT;

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
    crate::layout::ALL.to_owned()
}

/// Compute the leaderboard a query asks for.
pub async fn answer(state: &State, q: TopQuery) -> Result<TopReport, OnDemandError> {
    let series = Series::new(&q.period, &q.channel, &q.entry)?;
    state
        .on_demand
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
        Err(e) => error_json(&e),
    }
}

/// A JSON error body `{"error": "..."}` with the error's status.
pub fn error_json(error: &OnDemandError) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(error.status())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if matches!(error, OnDemandError::Busy { .. }) {
        response.insert_header((actix_web::http::header::RETRY_AFTER, "2"));
    }
    response.json(serde_json::json!({ "error": error.to_string() }))
}
