//! The render queue: the single entrance to the renderer pool.
//!
//! actix's `SyncArbiter` queues without bound, so this actor keeps at most one job per
//! window in the pool: a window asked for again while its job is queued or running is
//! rendered once more afterwards, with the latest log, instead of piling up. At start it
//! queues every window whose log is newer than its graph (e.g. one that ended while the
//! process was down). At shutdown it answers [`WaitIdle`] once the queue is empty.

use std::collections::HashSet;
use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::actors::renderer::{RenderJob, RenderSettings, Renderer};
use crate::graphs::window_graphs::WindowState;
use crate::ingest::window::Period;
use crate::ops::clock::Clock;
use crate::ops::events;
use crate::store::catalogue;
use crate::store::layout::{self, LogKey};
use crate::store::storage::Storage;

/// Render the graphs of a window (soon, once).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct RenderRequest {
    /// The window's log.
    pub key: LogKey,
}

/// Send render requests to this (new) render queue from now on: the supervisor's word
/// after it replaced one that died.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct UseRenderQueue(pub Addr<RenderQueue>);

/// Resolve when no render is queued or running.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WaitIdle;

/// New settings (reload).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reconfigure {
    /// Rendering settings.
    pub settings: RenderSettings,
    /// Periods, for titles and the start-up scan.
    pub periods: Vec<Period>,
}

/// The render queue actor.
pub struct RenderQueue {
    pool: Addr<Renderer>,
    storage: Arc<dyn Storage>,
    settings: RenderSettings,
    periods: Vec<Period>,
    /// Tells whether a window has ended.
    clock: Clock,
    /// Queued or running.
    in_pool: HashSet<LogKey>,
    /// Asked for again while in the pool.
    again: HashSet<LogKey>,
    idle_waiters: Vec<oneshot::Sender<()>>,
    scanned: bool,
}

impl RenderQueue {
    /// A queue in front of `pool`.
    pub fn new(
        pool: Addr<Renderer>,
        storage: Arc<dyn Storage>,
        settings: RenderSettings,
        periods: Vec<Period>,
        clock: Clock,
    ) -> Self {
        RenderQueue {
            pool,
            storage,
            settings,
            periods,
            clock,
            in_pool: HashSet::new(),
            again: HashSet::new(),
            idle_waiters: Vec::new(),
            scanned: false,
        }
    }

    fn submit(&mut self, key: LogKey, ctx: &mut Context<Self>) {
        if !self.in_pool.insert(key.clone()) {
            self.again.insert(key);
            return;
        }
        events::render_queue_depth(self.in_pool.len());
        let period = self
            .periods
            .iter()
            .find(|p| p.name() == key.period)
            .cloned();
        let state = WindowState::at(period.as_ref(), &key.window, self.clock.now());
        let job = RenderJob {
            key: key.clone(),
            period,
            settings: self.settings.clone(),
            state,
        };
        ctx.spawn(
            self.pool
                .send(job)
                .into_actor(self)
                .map(move |result, act, ctx| {
                    if let Err(e) = result {
                        events::render_failed(
                            &key.log_path(),
                            &format!("renderer pool unavailable: {e}"),
                        );
                    }
                    act.in_pool.remove(&key);
                    events::render_queue_depth(act.in_pool.len());
                    if act.again.remove(&key) {
                        act.submit(key, ctx);
                    } else if act.in_pool.is_empty() {
                        for waiter in act.idle_waiters.drain(..) {
                            let _ = waiter.send(());
                        }
                    }
                }),
        );
    }

    /// Queue every window whose log is newer than what was rendered from it
    /// ([`catalogue::stale_renders`]).
    fn scan_for_stale_graphs(&mut self, ctx: &mut Context<Self>) {
        let storage = self.storage.clone();
        let periods: Vec<String> = self.periods.iter().map(|p| p.name().to_owned()).collect();
        let scan = async move {
            let mut stale = Vec::new();
            for period in periods {
                let logs = storage.list(&layout::logs_prefix(&period)).await?;
                let svgs = storage.list(&layout::svgs_prefix(&period)).await?;
                stale.extend(catalogue::stale_renders(&period, &logs, &svgs));
            }
            Ok::<_, crate::store::storage::StorageError>(stale)
        };
        ctx.spawn(scan.into_actor(self).map(|result, act, ctx| match result {
            Ok(stale) => {
                if !stale.is_empty() {
                    events::stale_graphs_found(stale.len());
                }
                for key in stale {
                    act.submit(key, ctx);
                }
            }
            Err(e) => events::stale_graph_scan_failed(&e.to_string()),
        }));
    }
}

impl Actor for RenderQueue {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if !self.scanned {
            self.scanned = true;
            self.scan_for_stale_graphs(ctx);
        }
    }
}

impl Handler<RenderRequest> for RenderQueue {
    type Result = ();

    fn handle(&mut self, request: RenderRequest, ctx: &mut Context<Self>) {
        crate::actors::injected_panic("render_queue");
        self.submit(request.key, ctx);
    }
}

impl Handler<WaitIdle> for RenderQueue {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: WaitIdle, _: &mut Context<Self>) -> Self::Result {
        if self.in_pool.is_empty() {
            return Box::pin(async {});
        }
        let (tx, rx) = oneshot::channel();
        self.idle_waiters.push(tx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

impl Handler<Reconfigure> for RenderQueue {
    type Result = ();

    fn handle(&mut self, update: Reconfigure, _: &mut Context<Self>) {
        self.settings = update.settings;
        self.periods = update.periods;
    }
}
