//! The runtime dashboard's data: `/api/status` (JSON, polled by the `/status` page). Built
//! by [`crate::status::report`] from the metrics registry and the supervisor's overview.

use actix_web::{web, HttpResponse};

use super::State;
use crate::actors::supervisor::GetOverview;
use crate::status::StatusReport;

/// Take a report now.
pub async fn snapshot(state: &State) -> Option<StatusReport> {
    let overview = state.supervisor.send(GetOverview).await.ok()?;
    let series = crate::exposition::parse(&state.metrics.render());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    Some(crate::status::report(&series, overview, now))
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
