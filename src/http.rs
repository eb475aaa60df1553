//! The HTTP listener: Prometheus `/metrics` and the health probes `/healthz` and
//! `/readyz`, on the same actix system as the actors.

use std::sync::Arc;

use actix::Addr;
use actix_web::{web, App, HttpResponse, HttpServer};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::actors::supervisor::{Ping, Supervisor};
use crate::storage::Storage;

struct State {
    supervisor: Addr<Supervisor>,
    storage: Arc<dyn Storage>,
    metrics: PrometheusHandle,
}

async fn metrics(state: web::Data<State>) -> HttpResponse {
    state.metrics.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

async fn healthz(state: web::Data<State>) -> HttpResponse {
    match state.supervisor.send(Ping).await {
        Ok(true) => HttpResponse::Ok().content_type("text/plain").body("ok\n"),
        Ok(false) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("shutting down\n"),
        Err(_) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("actor system not answering\n"),
    }
}

async fn readyz(state: web::Data<State>) -> HttpResponse {
    match state.storage.list("logs/").await {
        Ok(_) => HttpResponse::Ok().json(serde_json::json!({"ready": true, "storage": "ok"})),
        Err(e) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"ready": false, "storage": e.to_string()})),
    }
}

/// Bind `listen` and start serving; the server runs until the actix system stops.
pub fn start(
    listen: &str,
    supervisor: Addr<Supervisor>,
    storage: Arc<dyn Storage>,
    prometheus: PrometheusHandle,
) -> std::io::Result<()> {
    let state = web::Data::new(State {
        supervisor,
        storage,
        metrics: prometheus,
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(metrics))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
    })
    .workers(1)
    .disable_signals()
    .bind(listen)?
    .run();
    actix_rt::spawn(server);
    Ok(())
}
