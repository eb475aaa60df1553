//! The supervisor: builds the actor tree, keeps it alive, reloads its config on SIGHUP
//! and shuts it down on SIGTERM without losing a sample.
//!
//! Actors that fail by stopping (the subscriber when Redis goes away, retention) are
//! restarted by actix's own `Supervisor`. An actor that *panics* is not restarted by actix
//! (its mailbox just closes), so a watchdog checks every child's address each second and
//! starts a fresh one for any that died.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::actors::bridge::{Bridge, BridgeSettings, FlushBridge};
use crate::actors::delta::{CommitNow, Delta, DeltaSettings};
use crate::actors::housekeeper::{Housekeeper, HousekeeperSettings, OpenWindows, ReleaseLease};
use crate::actors::render_queue::{self, RenderQueue, WaitIdle};
use crate::actors::renderer::{RenderSettings, Renderer};
use crate::actors::retention::{self, Retention};
use crate::actors::router::{
    self, FlushAll, FlushReport, HandOver, HandedOver, Router, RouterSettings, UseRouter,
};
use crate::actors::stream_reader::{ReaderSettings, StopReading, StreamReader};
use crate::actors::subscriber::{self, Drain, Subscriber, SubscriptionSender};
use crate::actors::writer_lease::{
    PublishMarkers, Release, WriterLease, WriterLeaseLost, WriterLeaseSettings,
};
use crate::config::{Config, ConfigError, SourceKind};
use crate::graphs::on_demand::OnDemand;
use crate::http::live_view::LiveView;
use crate::http::SiteSettings;
use crate::ops::clock::Clock;
use crate::ops::events;
use crate::ops::live::Live;
use crate::ops::status::{Overview, ReloadOutcome};
use crate::ops::telemetry::LogControl;
use crate::store::ledger::Ledger;
use crate::store::storage::Storage;

/// Renderer threads run at a lower priority (Linux nice, per thread): reading Redis must
/// never wait for CPU (a subscriber that falls behind is disconnected by Redis and its
/// samples are lost), and graphs can always wait. Aggregation stays at normal priority:
/// starving it only moves the backlog into memory, whose page faults then slow the
/// subscriber down (measured with bench/e2e.sh).
const RENDER_NICE: i32 = 10;

/// Lower the calling thread's scheduling priority by `nice`.
fn lower_thread_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on the calling thread's own id; no memory is shared.
        let result = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice)
        };
        if result != 0 {
            tracing::debug!(nice, error = %std::io::Error::last_os_error(), "cannot lower thread priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// Stop subscribing, checkpoint everything, finish renders, stop the system.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// Re-read the config file and apply it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reload;

/// Liveness: answered by a running supervisor.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Ping;

/// The config as the HTTP side needs it (answered from the supervisor's current config).
#[derive(Message)]
#[rtype(result = "Arc<SiteSettings>")]
pub struct GetSite;
/// What the supervisor knows about the running configuration, for `/status`.
#[derive(Message)]
#[rtype(result = "Overview")]
pub struct GetOverview;

fn unix_now() -> f64 {
    events::unix_seconds(std::time::SystemTime::now())
}

/// `start + after`, or a deadline a century away when that is past what an `Instant` can
/// hold (a `service.shutdown_timeout` of years means "wait as long as it takes").
fn far_instant(start: tokio::time::Instant, after: Duration) -> tokio::time::Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    start
        .checked_add(after)
        .or_else(|| start.checked_add(CENTURY))
        .unwrap_or(start)
}

fn config_digest(config: &Config) -> String {
    let digest = xxhash_rust::xxh3::xxh3_64(config.to_redacted_toml().as_bytes());
    format!("{digest:016x}")
}

/// Windows still being aggregated, as `(period, window)` (asked of the router); `None`
/// when the router does not answer.
#[derive(Message)]
#[rtype(result = "Option<std::collections::HashSet<(String, String)>>")]
pub struct GetLiveWindows;

/// The supervisor actor.
pub struct Supervisor {
    config_path: PathBuf,
    config: Config,
    site: Arc<SiteSettings>,
    config_generation: u64,
    config_applied_at: f64,
    last_reload: Option<ReloadOutcome>,
    clock: Clock,
    storage: Arc<dyn Storage>,
    /// What the HTTP side and on-demand graphs read (in stream mode, with live windows).
    readers_storage: Arc<dyn Storage>,
    /// Range and diff graphs and leaderboards, shared with the HTTP handlers.
    on_demand: Arc<Live<OnDemand>>,
    log: LogControl,
    ingest: Arbiter,
    /// The subscriber's own thread: the Redis connection driver runs there too, so nothing
    /// else (HTTP, the supervisor) ever delays reading Redis.
    subscriber_thread: Arbiter,
    render_pool: Addr<Renderer>,
    render_queue: Addr<RenderQueue>,
    router: Addr<Router>,
    /// Pub/sub mode's reader.
    subscriber: Option<Addr<Subscriber>>,
    /// Where every subscriber this process starts announces its subscription.
    subscription: SubscriptionSender,
    /// Pub/sub and bridge modes' writer lease (unless `redis.writer_lease` is 0).
    writer_lease: Option<Addr<WriterLease>>,
    /// Bridge mode's appender of pub/sub messages to the streams.
    bridge: Option<Addr<Bridge>>,
    /// Stream mode's readers, committers and housekeeper.
    stream: Option<StreamTree>,
    retention: Addr<Retention>,
    shutting_down: bool,
}

/// Stream mode's actors: the reader (on the subscriber's thread), the delta actor that
/// commits what it reads, and the housekeeper that seals windows (both on the ingest
/// thread; their heavy work runs on blocking threads).
#[derive(Clone)]
struct StreamTree {
    reader: Addr<StreamReader>,
    delta: Addr<Delta>,
    housekeeper: Addr<Housekeeper>,
    /// Windows not sealed yet, as the housekeeper last read them (the pages' live marks).
    open_windows: Arc<OpenWindows>,
}

/// This process's consumer name and lease token in stream mode: fixed for its lifetime.
fn stream_identity(config: &Config) -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| config.redis.consumer_name()).clone()
}

fn start_delta(
    config: &Config,
    storage: &Arc<dyn Storage>,
    ingest: &Arbiter,
) -> Result<Addr<Delta>, ConfigError> {
    let settings = DeltaSettings {
        channels: config.redis.channels.clone(),
        periods: config.period_specs()?,
        limits: config.aggregation.limits(),
        sample_every: config.aggregation.sample_every,
        commit_interval: config.redis.commit_interval,
        consumer: stream_identity(config),
        redis_url: config.redis.url.clone(),
    };
    let ledger = Ledger::new(&config.redis.group);
    let delta = Delta::new(settings, ledger, storage.clone())
        .map_err(|message| crate::ops::settings::invalid("periods.hourly", message))?;
    Ok(Delta::start_in_arbiter(&ingest.handle(), move |_| delta))
}

fn start_reader(config: &Config, delta: &Addr<Delta>, thread: &Arbiter) -> Addr<StreamReader> {
    let settings = ReaderSettings {
        url: config.redis.url.clone(),
        channels: config.redis.channels.clone(),
        consumer: stream_identity(config),
        claim_after: config.redis.claim_after,
        backoff: config.supervisor.clone(),
    };
    let (ledger, delta) = (Ledger::new(&config.redis.group), delta.clone());
    StreamReader::start_in_arbiter(&thread.handle(), move |_| {
        StreamReader::new(settings, ledger, delta)
    })
}

fn start_housekeeper(
    config: &Config,
    storage: &Arc<dyn Storage>,
    queue: &Addr<RenderQueue>,
    ingest: &Arbiter,
    open_windows: &Arc<OpenWindows>,
) -> Result<Addr<Housekeeper>, ConfigError> {
    let every = (config.redis.commit_interval / 4)
        .clamp(Duration::from_millis(100), Duration::from_secs(2));
    let settings = HousekeeperSettings {
        url: config.redis.url.clone(),
        channels: config.redis.channels.clone(),
        periods: config.period_specs()?,
        max_entry_points: config.aggregation.max_entry_points,
        every,
        claim_after: config.redis.claim_after,
        // Renewed every pass: a replica that dies hands housekeeping over within 5 passes.
        lease_ttl: (every * 5).max(Duration::from_secs(1)),
        token: stream_identity(config),
    };
    let (ledger, storage, queue, open_windows) = (
        Ledger::new(&config.redis.group),
        storage.clone(),
        queue.clone(),
        open_windows.clone(),
    );
    Ok(Housekeeper::start_in_arbiter(&ingest.handle(), move |_| {
        Housekeeper::new(settings, ledger, storage, queue, open_windows)
    }))
}

fn start_stream_tree(
    config: &Config,
    storage: &Arc<dyn Storage>,
    queue: &Addr<RenderQueue>,
    ingest: &Arbiter,
    reader_thread: &Arbiter,
) -> Result<StreamTree, ConfigError> {
    let delta = start_delta(config, storage, ingest)?;
    let reader = start_reader(config, &delta, reader_thread);
    let open_windows = Arc::new(OpenWindows::new(Default::default()));
    let housekeeper = start_housekeeper(config, storage, queue, ingest, &open_windows)?;
    Ok(StreamTree {
        reader,
        delta,
        housekeeper,
        open_windows,
    })
}

fn render_settings(config: &Config) -> RenderSettings {
    config.render.settings(&config.top.skip)
}

/// Whether the writer lease is in use (pub/sub and bridge modes): a router then starts as
/// a standby.
fn uses_writer_lease(config: &Config) -> bool {
    config.redis.subscribes() && !config.redis.writer_lease.is_zero()
}

/// This process's writer-lease token: fixed for its lifetime, so that the bridge's appends
/// are fenced by the lease the writer-lease actor holds.
fn writer_token(config: &Config) -> String {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN
        .get_or_init(|| {
            format!(
                "{}-{:016x}",
                stream_identity(config),
                crate::ops::clock::nonce()
            )
        })
        .clone()
}

fn start_bridge(config: &Config, ingest: &Arbiter) -> Addr<Bridge> {
    let settings = BridgeSettings {
        url: config.redis.url.clone(),
        token: writer_token(config),
        max_len: config.redis.bridge_max_len,
        backoff: config.supervisor.clone(),
    };
    let ledger = Ledger::new(&config.redis.group);
    actix::Supervisor::start_in_arbiter(&ingest.handle(), move |_| Bridge::new(settings, ledger))
}

fn start_router(
    config: &Config,
    clock: Clock,
    storage: &Arc<dyn Storage>,
    queue: &Addr<RenderQueue>,
    ingest: &Arbiter,
    bridge: Option<&Addr<Bridge>>,
) -> Result<Addr<Router>, ConfigError> {
    let settings = RouterSettings::from_config(config)?;
    let storage = storage.clone();
    let queue = queue.clone();
    let bridge = bridge.cloned();
    // A standby keeps what a writer that vanished may not have saved: its last checkpoint
    // interval, plus the time its lease takes to lapse.
    let standby = uses_writer_lease(config)
        .then(|| config.aggregation.flush_interval + config.redis.writer_lease * 2);
    Ok(Router::start_in_arbiter(&ingest.handle(), move |_| {
        Router::new(settings, clock, storage, queue, standby, bridge)
    }))
}

fn start_writer_lease(
    config: &Config,
    router: &Addr<Router>,
    supervisor: Recipient<WriterLeaseLost>,
    subscription: &SubscriptionSender,
    ingest: &Arbiter,
) -> Addr<WriterLease> {
    let settings = WriterLeaseSettings {
        url: config.redis.url.clone(),
        channels: config.redis.channels.clone(),
        ttl: config.redis.writer_lease,
        token: writer_token(config),
        bridge: config.redis.source == SourceKind::Bridge,
    };
    let (ledger, router) = (Ledger::new(&config.redis.group), router.clone());
    let subscription = subscription.subscribe();
    WriterLease::start_in_arbiter(&ingest.handle(), move |_| {
        WriterLease::new(settings, ledger, router, supervisor, subscription)
    })
}

fn start_render_queue(
    config: &Config,
    clock: Clock,
    pool: &Addr<Renderer>,
    storage: &Arc<dyn Storage>,
) -> Result<Addr<RenderQueue>, ConfigError> {
    let periods = config
        .period_specs()?
        .into_iter()
        .map(|s| s.period)
        .collect();
    Ok(RenderQueue::new(
        pool.clone(),
        storage.clone(),
        render_settings(config),
        periods,
        clock,
    )
    .start())
}

fn start_subscriber(
    config: &Config,
    router: &Addr<Router>,
    subscription: &SubscriptionSender,
    thread: &Arbiter,
) -> Addr<Subscriber> {
    let (redis, backoff, router, subscription) = (
        config.redis.clone(),
        config.supervisor.clone(),
        router.clone(),
        subscription.clone(),
    );
    actix::Supervisor::start_in_arbiter(&thread.handle(), move |_| {
        Subscriber::new(redis, backoff, router, subscription)
    })
}

fn start_retention(
    config: &Config,
    clock: Clock,
    storage: &Arc<dyn Storage>,
    router: &Addr<Router>,
) -> Result<Addr<Retention>, ConfigError> {
    let (periods, interval) = (config.period_specs()?, config.retention.interval);
    let min_width = config.render.min_width;
    let (storage, router) = (storage.clone(), router.clone());
    Ok(actix::Supervisor::start(move |_| {
        Retention::new(periods, interval, min_width, clock, storage, router)
    }))
}

impl Supervisor {
    /// Build and start the whole tree. Call inside a running actix system.
    pub fn start_tree(
        config_path: PathBuf,
        config: Config,
        storage: Arc<dyn Storage>,
        readers_storage: Arc<dyn Storage>,
        on_demand: Arc<Live<OnDemand>>,
        log: LogControl,
    ) -> Result<Addr<Supervisor>, ConfigError> {
        let clock = Clock::new(config.clock.start, config.clock.speed);
        let site = Arc::new(SiteSettings::from_config(&config, clock)?);
        let pool_storage = storage.clone();
        let render_pool = SyncArbiter::start(config.render.effective_workers(), move || {
            lower_thread_priority(RENDER_NICE);
            Renderer::new(pool_storage.clone())
        });
        let render_queue = start_render_queue(&config, clock, &render_pool, &storage)?;
        let ingest = Arbiter::new();
        let bridge =
            (config.redis.source == SourceKind::Bridge).then(|| start_bridge(&config, &ingest));
        let router = start_router(
            &config,
            clock,
            &storage,
            &render_queue,
            &ingest,
            bridge.as_ref(),
        )?;
        let subscriber_thread = Arbiter::new();
        let subscription: SubscriptionSender = Arc::new(tokio::sync::watch::Sender::new(
            crate::ingest::handover::SubscriptionStatus::default(),
        ));
        let subscriber = config
            .redis
            .subscribes()
            .then(|| start_subscriber(&config, &router, &subscription, &subscriber_thread));
        let stream = match config.redis.reads_streams() {
            true => Some(start_stream_tree(
                &config,
                &storage,
                &render_queue,
                &ingest,
                &subscriber_thread,
            )?),
            false => None,
        };
        let retention = start_retention(&config, clock, &storage, &router)?;
        tracing::info!(
            storage = storage.describe(),
            channels = ?config.redis.channels,
            url = config.redis.redacted_url(),
            render_workers = config.render.effective_workers(),
            "arclamp started"
        );
        Ok(Supervisor {
            config_path,
            config,
            site,
            config_generation: 1,
            config_applied_at: unix_now(),
            last_reload: None,
            clock,
            storage,
            readers_storage,
            on_demand,
            log,
            ingest,
            subscriber_thread,
            render_pool,
            render_queue,
            router,
            subscriber,
            subscription,
            writer_lease: None,
            bridge,
            stream,
            retention,
            shutting_down: false,
        }
        .start())
    }

    /// Restart any child whose mailbox has closed (it panicked).
    fn watch_children(&mut self) -> Result<(), ConfigError> {
        if self.shutting_down {
            return Ok(());
        }
        if !self.render_queue.connected() {
            events::actor_died("render_queue");
            self.render_queue =
                start_render_queue(&self.config, self.clock, &self.render_pool, &self.storage)?;
            self.router
                .do_send(render_queue::UseRenderQueue(self.render_queue.clone()));
            if let Some(stream) = &self.stream {
                stream
                    .housekeeper
                    .do_send(render_queue::UseRenderQueue(self.render_queue.clone()));
            }
        }
        if !self.router.connected() {
            events::actor_died("router");
            self.router = start_router(
                &self.config,
                self.clock,
                &self.storage,
                &self.render_queue,
                &self.ingest,
                self.bridge.as_ref(),
            )?;
            if let Some(subscriber) = &self.subscriber {
                subscriber.do_send(Drain);
                self.subscriber = Some(start_subscriber(
                    &self.config,
                    &self.router,
                    &self.subscription,
                    &self.subscriber_thread,
                ));
            }
            self.retention.do_send(UseRouter(self.router.clone()));
            if let Some(lease) = &self.writer_lease {
                lease.do_send(UseRouter(self.router.clone()));
            }
        }
        if self.subscriber.as_ref().is_some_and(|s| !s.connected()) {
            events::actor_died("subscriber");
            self.subscriber = Some(start_subscriber(
                &self.config,
                &self.router,
                &self.subscription,
                &self.subscriber_thread,
            ));
        }
        if let Some(stream) = self.stream.clone() {
            if !stream.delta.connected() || !stream.reader.connected() {
                // What the lost actor held is still pending in Redis: a new reader starts a
                // new epoch and reads it again.
                events::actor_died("stream_reader");
                stream.reader.do_send(StopReading);
                let delta = if stream.delta.connected() {
                    stream.delta.clone()
                } else {
                    start_delta(&self.config, &self.storage, &self.ingest)?
                };
                let reader = start_reader(&self.config, &delta, &self.subscriber_thread);
                self.stream = Some(StreamTree {
                    reader,
                    delta,
                    ..stream.clone()
                });
            }
            if !stream.housekeeper.connected() {
                events::actor_died("housekeeper");
                let housekeeper = start_housekeeper(
                    &self.config,
                    &self.storage,
                    &self.render_queue,
                    &self.ingest,
                    &stream.open_windows,
                )?;
                if let Some(tree) = &mut self.stream {
                    tree.housekeeper = housekeeper;
                }
            }
        }
        if !self.retention.connected() {
            events::actor_died("retention");
            self.retention =
                start_retention(&self.config, self.clock, &self.storage, &self.router)?;
        }
        Ok(())
    }

    fn apply(&mut self, new: Config) -> Result<(), ConfigError> {
        let router_settings = RouterSettings::from_config(&new)?;
        let periods = new.period_specs()?;
        let on_demand_changed = self.config.top != new.top
            || self.config.on_demand != new.on_demand
            || self.config.render != new.render
            || self.config.periods != new.periods;
        // Built before anything is applied, so a bad `[top]` rejects the whole reload.
        let on_demand = if on_demand_changed {
            Some(OnDemand::new(
                new.on_demand_settings()?,
                self.readers_storage.clone(),
            )?)
        } else {
            None
        };
        self.site = Arc::new(SiteSettings::from_config(&new, self.clock)?);
        self.log.set_level(&new.log.level);
        if let Some(subscriber) = &self.subscriber {
            subscriber.do_send(subscriber::Reconfigure {
                redis: new.redis.clone(),
                supervisor: new.supervisor.clone(),
            });
        }
        self.router.do_send(router::Reconfigure(router_settings));
        self.render_queue.do_send(render_queue::Reconfigure {
            settings: render_settings(&new),
            periods: periods.iter().map(|s| s.period.clone()).collect(),
        });
        self.retention.do_send(retention::Reconfigure {
            periods,
            interval: new.retention.interval,
            min_width: new.render.min_width,
        });
        let stream_changed = self.config.redis.source != new.redis.source
            || (self.stream.is_some() && self.config.redis != new.redis);
        let restart_only = [
            ("redis (stream mode)", stream_changed),
            (
                "redis.writer_lease and redis.group (pub/sub mode)",
                self.stream.is_none()
                    && (self.config.redis.writer_lease != new.redis.writer_lease
                        || self.config.redis.group != new.redis.group),
            ),
            ("storage", self.config.storage != new.storage),
            ("http.listen", self.config.http != new.http),
            (
                "render.workers",
                self.config.render.workers != new.render.workers,
            ),
            ("log.format", self.config.log.format != new.log.format),
            ("clock", self.config.clock != new.clock),
        ];
        for (key, changed) in restart_only {
            if changed {
                events::setting_needs_restart(key);
            }
        }
        if let Some(on_demand) = on_demand {
            // Its graph cache starts empty: cached range graphs used the old title and width.
            self.on_demand.replace(on_demand);
        }
        self.config = new;
        Ok(())
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if uses_writer_lease(&self.config) {
            self.writer_lease = Some(start_writer_lease(
                &self.config,
                &self.router,
                ctx.address().recipient(),
                &self.subscription,
                &self.ingest,
            ));
        }
        ctx.run_interval(Duration::from_secs(1), |act, _| {
            if let Err(e) = act.watch_children() {
                events::actor_restart_failed(&e.to_string());
            }
        });
    }
}

impl Handler<Ping> for Supervisor {
    type Result = bool;

    fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> bool {
        !self.shutting_down
    }
}

impl Handler<GetSite> for Supervisor {
    type Result = MessageResult<GetSite>;

    fn handle(&mut self, _: GetSite, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.site.clone())
    }
}

impl Handler<GetOverview> for Supervisor {
    type Result = MessageResult<GetOverview>;

    fn handle(&mut self, _: GetOverview, _: &mut Context<Self>) -> Self::Result {
        MessageResult(Overview {
            redis_url: self.config.redis.redacted_url(),
            channels: self.config.redis.channels.clone(),
            periods: self.config.periods.keys().cloned().collect(),
            config_generation: self.config_generation,
            config_digest: config_digest(&self.config),
            config_applied_at: self.config_applied_at,
            last_reload: self.last_reload.clone(),
            shutting_down: self.shutting_down,
            stream_mode: self.config.redis.reads_streams(),
        })
    }
}

impl Handler<GetLiveWindows> for Supervisor {
    type Result = ResponseFuture<Option<std::collections::HashSet<(String, String)>>>;

    fn handle(&mut self, _: GetLiveWindows, _: &mut Context<Self>) -> Self::Result {
        if let Some(stream) = &self.stream {
            // Every replica reads the same ledger: they all mark the same windows live.
            let open = stream.open_windows.get();
            return Box::pin(async move { Some((*open).clone()) });
        }
        let router = self.router.clone();
        Box::pin(async move { router.send(router::LiveWindows).await.ok() })
    }
}

/// The web side's view of the running service: each question is one message to the
/// supervisor, and an actor system that does not answer is `None`.
#[async_trait::async_trait(?Send)]
impl LiveView for Addr<Supervisor> {
    async fn ping(&self) -> Option<bool> {
        self.send(Ping).await.ok()
    }

    async fn site(&self) -> Option<Arc<SiteSettings>> {
        self.send(GetSite).await.ok()
    }

    async fn overview(&self) -> Option<Overview> {
        self.send(GetOverview).await.ok()
    }

    async fn live_windows(&self) -> Option<std::collections::HashSet<(String, String)>> {
        self.send(GetLiveWindows).await.ok().flatten()
    }
}

impl Handler<Reload> for Supervisor {
    type Result = ();

    fn handle(&mut self, _: Reload, _: &mut Context<Self>) {
        if self.shutting_down {
            return;
        }
        tracing::info!(path = %self.config_path.display(), "SIGHUP: reloading the config");
        let result = Config::load(&self.config_path).and_then(|new| self.apply(new));
        let error = result.err().map(|e| e.to_string());
        if error.is_none() {
            self.config_generation += 1;
            self.config_applied_at = unix_now();
        }
        events::config_reloaded(error.as_deref().map_or(Ok(()), Err));
        self.last_reload = Some(ReloadOutcome {
            at: unix_now(),
            error,
        });
    }
}

/// Pub/sub mode, shutdown: publish a handover marker and wait (until `by`) for it to come
/// back on every channel, everything before it counted. The nonce when it did; `None` when
/// this instance stands by (nothing to hand over) or the markers did not make it.
async fn hand_over(
    router: &Addr<Router>,
    lease: &Addr<WriterLease>,
    by: tokio::time::Instant,
) -> Option<String> {
    let nonce = format!("{:016x}", crate::ops::clock::nonce());
    let writer = tokio::time::timeout_at(
        by,
        router.send(HandOver {
            nonce: nonce.clone(),
        }),
    )
    .await
    .is_ok_and(|answer| answer.unwrap_or(false));
    if !writer {
        return None;
    }
    let published = tokio::time::timeout_at(
        by,
        lease.send(PublishMarkers {
            nonce: nonce.clone(),
        }),
    )
    .await
    .is_ok_and(|answer| answer.unwrap_or(false));
    let mut marked = false;
    while published && !marked && tokio::time::Instant::now() < by {
        marked = matches!(router.send(HandedOver).await, Ok(true));
        if !marked {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    events::handed_over(marked);
    marked.then_some(nonce)
}

impl Handler<WriterLeaseLost> for Supervisor {
    type Result = ();

    fn handle(&mut self, _: WriterLeaseLost, _: &mut Context<Self>) {
        // Another instance writes now and has resumed from the stored windows: whatever
        // this one holds must not be written over them.
        self.shutting_down = true;
        System::current().stop_with_code(1);
    }
}

impl Handler<Shutdown> for Supervisor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        if self.shutting_down {
            tracing::info!("already shutting down");
            return;
        }
        self.shutting_down = true;
        let timeout = self.config.service.shutdown_timeout;
        tracing::info!(
            timeout_seconds = timeout.as_secs_f64(),
            "shutting down: unsubscribing, checkpointing every window, finishing renders"
        );
        let (subscriber, router, queue, stream, writer_lease, bridge) = (
            self.subscriber.clone(),
            self.router.clone(),
            self.render_queue.clone(),
            self.stream.clone(),
            self.writer_lease.clone(),
            self.bridge.clone(),
        );
        let shutdown = async move {
            let started = tokio::time::Instant::now();
            let deadline = far_instant(started, timeout);
            // A connected subscriber drains in a round trip; one that does not answer has
            // nothing left to forward. Either way the checkpoints below get at least half
            // the time: they hold what was received.
            let drain_by = far_instant(started, timeout / 2);
            // Pub/sub writer: count each channel up to a marker of ours, so that a standby
            // taking over counts exactly what follows it.
            let cut = match &writer_lease {
                Some(lease) => hand_over(&router, lease, drain_by).await,
                None => None,
            };
            if let Some(subscriber) = subscriber {
                let _ = tokio::time::timeout_at(drain_by, subscriber.send(Drain)).await;
            }
            if let Some(bridge) = bridge {
                // Before the lease goes: once it is gone, appends are refused.
                let flushed = tokio::time::timeout_at(deadline, bridge.send(FlushBridge)).await;
                events::shutdown_bridge_flushed(matches!(flushed, Ok(Ok(true))));
            }
            let mut report = FlushReport {
                failed: 1,
                ..FlushReport::default()
            };
            if let Some(stream) = stream {
                // Stop reading, then commit what was read. Entries not committed by the
                // deadline stay pending in Redis: another replica (or the next start)
                // counts them, so nothing is lost either way.
                let _ = tokio::time::timeout_at(drain_by, stream.reader.send(StopReading)).await;
                let mut committed = false;
                while !committed && tokio::time::Instant::now() < deadline {
                    committed = matches!(
                        tokio::time::timeout_at(deadline, stream.delta.send(CommitNow)).await,
                        Ok(Ok(true))
                    );
                    if !committed {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
                if !committed {
                    tracing::warn!(
                        "shutting down with entries not committed: they stay pending in Redis \
                         and are counted by the replica that claims them"
                    );
                }
                let _ =
                    tokio::time::timeout_at(deadline, stream.housekeeper.send(ReleaseLease)).await;
            }
            while report.failed > 0 && tokio::time::Instant::now() < deadline {
                report = match tokio::time::timeout_at(deadline, router.send(FlushAll)).await {
                    Ok(Ok(report)) => report,
                    _ => FlushReport {
                        failed: 1,
                        ..report
                    },
                };
                if report.failed > 0 {
                    events::shutdown_checkpoints_retried(report.failed, report.unsaved_samples);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            if let Some(lease) = writer_lease {
                // Only once every window is saved: the next writer resumes from them.
                let cut = cut.filter(|_| report.failed == 0);
                let _ = tokio::time::timeout_at(deadline, lease.send(Release { cut })).await;
            }
            if tokio::time::timeout_at(deadline, queue.send(WaitIdle))
                .await
                .is_err()
            {
                events::shutdown_renders_left();
            }
            report
        };
        ctx.wait(shutdown.into_actor(self).map(|report, _, _| {
            let code = if report.failed == 0 {
                tracing::info!(
                    windows = report.windows,
                    "every window checkpointed: exiting"
                );
                0
            } else {
                events::shutdown_lost_samples(report.failed, report.unsaved_samples);
                1
            };
            System::current().stop_with_code(code);
        }));
    }
}
