//! `/metrics`: the Prometheus text exposition of every `arclamp_*` metric.

use actix_web::{web, HttpResponse};

use super::State;

/// `GET /metrics`.
pub async fn metrics(state: web::Data<State>) -> HttpResponse {
    state.metrics.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
