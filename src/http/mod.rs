//! The HTTP side, on the same actix system as the actors so handlers can ask them.
//!
//! One file per group of routes: [`browse`] (`/`, `/go`), [`view`] (graph pages),
//! [`files`] (raw `/svgs/` and `/logs/`), [`api`] (`/api/index.json`), [`metrics`]
//! (Prometheus), [`probes`] (health), [`assets`] (the compiled-in stylesheet and scripts),
//! [`status`] (runtime dashboard), [`top`] (leaderboard), [`trend`] (a function over many
//! windows), [`on_demand`] (range and diff graphs), [`exports`] (speedscope and pprof
//! files). Cross-cutting pieces: [`security`] (methods and response headers for every
//! response), [`keys`] (URL segments parsed into typed keys), [`html`] (rendering askama
//! pages, error pages), [`urls`] (page URLs), [`negotiate`] (gzip, ETags, conditional GET),
//! [`file_cache`] and [`listing`] (what is kept in memory between requests). This module
//! owns the shared [`State`], the [`SiteSettings`] handlers read from the config, and the
//! route table.
//!
//! Handlers read the store, and what only the running service knows through
//! [`live_view::LiveView`]; they may import `config`, `graphs`, `store`, `ingest` and
//! `ops`, never `actors` (so any replica can serve any page).

mod api;
pub mod assets;
mod browse;
mod exports;
pub mod file_cache;
mod files;
pub mod html;
pub mod keys;
pub mod listing;
pub mod live_view;
mod metrics;
pub mod negotiate;
pub mod on_demand;
mod probes;
pub mod security;
mod status;
mod stream_body;
pub mod top;
mod trend;
pub mod urls;
mod view;

use std::sync::Arc;

use actix_web::{middleware, web, App, HttpServer};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::{Config, ConfigError};
use crate::graphs::on_demand::OnDemand;
use crate::ingest::window::Period;
use crate::ops::clock::Clock;
use crate::ops::live::Live;
use crate::store::storage::Storage;

/// What every handler can reach. Shared by all HTTP worker threads.
pub struct State {
    /// What is not in the store: live windows, the config in force, liveness.
    pub live: Arc<dyn live_view::LiveView>,
    /// Where logs and graphs are kept.
    pub storage: Arc<dyn Storage>,
    /// Renders the Prometheus exposition.
    pub metrics: PrometheusHandle,
    /// Range and diff graphs, leaderboards, as the config currently in force builds them.
    pub on_demand: Arc<Live<OnDemand>>,
    /// Recently served graphs and logs.
    pub files: file_cache::FileCache,
    /// Recent storage listings and log summaries.
    pub listings: listing::Listings,
}

impl State {
    /// The config as pages need it (periods, channels, function graphs), as currently
    /// loaded: asks the live view, so a reload is seen at once.
    pub async fn site(&self) -> Result<Arc<SiteSettings>, html::PageError> {
        self.live.site().await.ok_or(html::PageError::Unavailable(
            "the actor system is not answering",
        ))
    }
}

/// The part of the config that pages and the API read.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    /// Configured periods, in config order.
    pub periods: Vec<Period>,
    /// Subscribed channels (the browser's "source").
    pub channels: Vec<String>,
    /// Labels of the function-focused graphs (`fn-{label}`).
    pub functions: Vec<String>,
    /// The service's clock ("yesterday" in the browser is the clock's yesterday).
    pub clock: Clock,
    /// Stream mode: a replica is ready only while it consumes (reads Redis), so that a
    /// rolling update waits until the new replica takes its share.
    pub ready_needs_redis: bool,
}

impl SiteSettings {
    /// Extract what pages need from a validated config; `clock` is the service's (a
    /// reload keeps the running clock).
    pub fn from_config(config: &Config, clock: Clock) -> Result<Self, ConfigError> {
        Ok(SiteSettings {
            periods: config
                .period_specs()?
                .into_iter()
                .map(|s| s.period)
                .collect(),
            channels: config.redis.channels.clone(),
            ready_needs_redis: config.redis.reads_streams(),
            functions: config
                .render
                .functions
                .iter()
                .map(|f| f.label.clone())
                .collect(),
            clock,
        })
    }

    /// The configured period with this name.
    pub fn period(&self, name: &str) -> Option<&Period> {
        self.periods.iter().find(|p| p.name() == name)
    }
}

/// Bind the HTTP address (`http.listen`) as actix-web would, address reuse included, so a
/// restarted process gets its port back at once. The service binds before it starts any
/// actor: a port already taken then fails the start cleanly, before a sample is received.
pub fn bind(listen: &str) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let mut last_error = None;
    for addr in std::net::ToSocketAddrs::to_socket_addrs(listen)? {
        let attempt = (|| {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            socket.set_reuse_address(true)?;
            socket.bind(&addr.into())?;
            socket.listen(1024)?;
            Ok(std::net::TcpListener::from(socket))
        })();
        match attempt {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

/// Start serving on `listener` (from [`bind`]); the server runs until the actix system stops.
pub fn start(
    listener: std::net::TcpListener,
    workers: usize,
    live: Arc<dyn live_view::LiveView>,
    storage: Arc<dyn Storage>,
    prometheus: PrometheusHandle,
    on_demand: Arc<Live<OnDemand>>,
) -> std::io::Result<()> {
    let state = web::Data::new(State {
        live,
        storage,
        metrics: prometheus,
        on_demand,
        files: file_cache::FileCache::default(),
        listings: listing::Listings::default(),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PathConfig::default().error_handler(keys::path_error))
            .app_data(web::QueryConfig::default().error_handler(keys::query_error))
            .wrap(middleware::from_fn(security::headers))
            // Only GET and HEAD reach a route: `security::headers` answers 405 to the rest.
            .route("/metrics", web::route().to(metrics::metrics))
            .route("/healthz", web::route().to(probes::healthz))
            .route("/readyz", web::route().to(probes::readyz))
            .route("/status", web::route().to(status::status_page))
            .route("/api/status", web::route().to(status::api_status))
            .route("/top", web::route().to(top::top_page))
            .route("/diff", web::route().to(on_demand::diff_page))
            .route("/range", web::route().to(on_demand::range_page))
            .route("/api/top", web::route().to(top::api_top))
            .route("/trend", web::route().to(trend::trend_page))
            .route("/api/trend.json", web::route().to(trend::api_trend))
            .route("/range.svg", web::route().to(on_demand::range_svg))
            .route("/diff.svg", web::route().to(on_demand::diff_svg))
            .route(
                "/range.speedscope.json",
                web::route().to(exports::range_speedscope),
            )
            .route("/range.pb.gz", web::route().to(exports::range_pprof))
            .route(
                "/diff.speedscope.json",
                web::route().to(exports::diff_speedscope),
            )
            .route("/diff.folded", web::route().to(exports::diff_folded))
            .route("/export/{period}/{file}", web::route().to(exports::window))
            .route("/", web::route().to(browse::browse))
            .route("/go", web::route().to(browse::go))
            .route(
                "/view/{period}/{window}/{channel}/{entry}",
                web::route().to(view::view),
            )
            .route("/svgs/{period}/{file}", web::route().to(files::svg))
            .route("/logs/{period}/{file}", web::route().to(files::log))
            .route("/api/index.json", web::route().to(api::index))
            .route("/static/{name}", web::route().to(files::asset))
            .default_service(web::route().to(html::not_found))
    })
    .workers(workers)
    // A client that has not sent its whole request head within 5 s gets 408 and is
    // disconnected: slow clients cannot hold connections open.
    .client_request_timeout(std::time::Duration::from_secs(5))
    .client_disconnect_timeout(std::time::Duration::from_secs(1))
    .disable_signals()
    .listen(listener)?
    .run();
    actix_rt::spawn(server);
    Ok(())
}
