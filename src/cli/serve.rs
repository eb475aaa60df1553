//! `arclamp serve`: the service.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::signal::unix::{signal, SignalKind};

use crate::actors::supervisor::{Reload, Shutdown, Supervisor};
use crate::config::Config;
use crate::graphs::derived::DerivedEntries;
use crate::graphs::live;
use crate::graphs::on_demand::OnDemand;
use crate::ops::live::Live;
use crate::store::storage::{self, Storage};
use crate::{http, ops::telemetry};

/// Arguments of `arclamp serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Config file (TOML); `ARCLAMP__*` environment variables override its keys.
    #[arg(long, default_value = "config/arclamp.toml")]
    pub config: PathBuf,
}

/// Run the service until SIGTERM or SIGINT.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)
        .with_context(|| format!("invalid config {}", args.config.display()))?;
    let log = telemetry::init_logging(&config.log)?;
    let metrics = telemetry::init_metrics()?;
    let periods: Vec<String> = config.periods.keys().cloned().collect();
    let stream_mode = config.redis.reads_streams();
    crate::ops::events::register(
        &config.redis.channels,
        &periods,
        stream_mode,
        config.redis.subscribes(),
    );
    let (listen, workers) = (config.http.listen.clone(), config.http.workers);
    let listener =
        http::bind(&listen).with_context(|| format!("cannot listen on {listen} (http.listen)"))?;
    let system = actix_rt::System::new();
    system.block_on(async {
        let stored: Arc<dyn Storage> = storage::open(&config.storage)
            .context("cannot open the storage ([storage] in the config)")?;
        // Every reader (and the renderer) sees entry points' logs and graphs, made from
        // `all` on read: they are not stored.
        let storage: Arc<dyn Storage> =
            Arc::new(DerivedEntries::new(stored, config.derived_settings()?));
        // Pages, the API and on-demand graphs read stream mode's windows not sealed yet on
        // demand, from the ledger's snapshot.
        let readers_storage = live::for_readers(storage.clone(), config.live_settings()?)
            .map_err(|e| anyhow::anyhow!("invalid redis.url for reading live windows: {e}"))?;
        // Range and diff graphs and leaderboards; the supervisor replaces it when a reload
        // changes what it is built from.
        let on_demand = Arc::new(Live::new(OnDemand::new(
            config.on_demand_settings()?,
            readers_storage.clone(),
        )?));
        let supervisor = Supervisor::start_tree(
            args.config.clone(),
            config,
            storage.clone(),
            readers_storage.clone(),
            on_demand.clone(),
            log,
        )?;
        http::start(
            listener,
            workers,
            Arc::new(supervisor.clone()),
            readers_storage,
            metrics,
            on_demand,
        )
        .with_context(|| format!("cannot start the HTTP server on {listen} (http.listen)"))?;
        tracing::info!(
            listen,
            workers,
            "HTTP listening: / /api/index.json /svgs/ /logs/ /metrics /healthz /readyz"
        );
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut hangup = signal(SignalKind::hangup())?;
        actix_rt::spawn(async move {
            loop {
                tokio::select! {
                    _ = terminate.recv() => supervisor.do_send(Shutdown),
                    _ = interrupt.recv() => supervisor.do_send(Shutdown),
                    _ = hangup.recv() => supervisor.do_send(Reload),
                }
            }
        });
        anyhow::Ok(())
    })?;
    let code = system.run_with_code().context("the actor system failed")?;
    if code != 0 {
        anyhow::bail!("shut down with samples that could not be saved (see the log above)");
    }
    Ok(())
}
