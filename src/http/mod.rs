//! The HTTP side, on the same actix system as the actors so handlers can ask them.
//!
//! One file per group of routes: [`metrics`] (Prometheus), [`probes`] (health). This module
//! owns the shared [`State`] and the route table.

mod metrics;
mod probes;

use std::sync::Arc;

use actix::Addr;
use actix_web::{web, App, HttpServer};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::actors::supervisor::Supervisor;
use crate::storage::Storage;

/// What every handler can reach.
pub struct State {
    /// The root of the actor tree.
    pub supervisor: Addr<Supervisor>,
    /// Where logs and graphs are kept.
    pub storage: Arc<dyn Storage>,
    /// Renders the Prometheus exposition.
    pub metrics: PrometheusHandle,
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
            .route("/metrics", web::get().to(metrics::metrics))
            .route("/healthz", web::get().to(probes::healthz))
            .route("/readyz", web::get().to(probes::readyz))
    })
    .workers(1)
    .disable_signals()
    .bind(listen)?
    .run();
    actix_rt::spawn(server);
    Ok(())
}
