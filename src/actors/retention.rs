//! The retention actor: at start and every `retention.interval`, lists each period's logs
//! and graphs, asks the router which windows are live, deletes what
//! [`crate::store::retention::plan`] says, and reports what stays stored (bytes, oldest and newest
//! window per period) from the same listing; then builds the roll-ups that listing lacks
//! ([`crate::graphs::rollup_builder`]), so that long ranges stay cheap.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::actors::router::{LiveWindows, Router, UseRouter};
use crate::config::PeriodSpec;
use crate::graphs::rollup_builder;
use crate::ops::clock::Clock;
use crate::ops::events;
use crate::store::layout;
use crate::store::retention;
use crate::store::storage::{ObjectInfo, Storage, StorageError};

/// New settings (reload).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reconfigure {
    /// Periods with their retention.
    pub periods: Vec<PeriodSpec>,
    /// Pass interval.
    pub interval: Duration,
    /// `render.min_width`: the roll-ups are built fine enough for graphs drawn at it.
    pub min_width: f64,
}

/// How often what is stored is reported between passes (small stores only).
const USAGE_REFRESH: Duration = Duration::from_secs(60);

/// Objects (logs and graphs of all periods) above which usage is only reported by passes.
const USAGE_REFRESH_MAX_OBJECTS: usize = 20_000;

/// Run a pass now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RunPass;

/// The retention actor.
pub struct Retention {
    periods: Vec<PeriodSpec>,
    interval: Duration,
    min_width: f64,
    clock: Clock,
    storage: Arc<dyn Storage>,
    router: Addr<Router>,
    timer: Option<SpawnHandle>,
    /// Objects the last usage refresh listed.
    objects_seen: usize,
}

impl Retention {
    /// A retention actor over `storage`.
    pub fn new(
        periods: Vec<PeriodSpec>,
        interval: Duration,
        min_width: f64,
        clock: Clock,
        storage: Arc<dyn Storage>,
        router: Addr<Router>,
    ) -> Self {
        Retention {
            periods,
            interval,
            min_width,
            clock,
            storage,
            router,
            timer: None,
            objects_seen: 0,
        }
    }

    fn schedule(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        self.timer = Some(ctx.run_interval(self.interval, |act, ctx| act.pass(ctx)));
    }

    fn pass(&mut self, ctx: &mut Context<Self>) {
        crate::actors::injected_panic("retention");
        let periods = self.periods.clone();
        let storage = self.storage.clone();
        let router = self.router.clone();
        let now = self.clock.now();
        let min_width = self.min_width;
        let pass = async move {
            let live = router
                .send(LiveWindows)
                .await
                .map_err(|e| format!("cannot ask the router for live windows: {e}"))?;
            for spec in &periods {
                let name = spec.period.name();
                let (logs, svgs) = list_period(storage.as_ref(), name)
                    .await
                    .map_err(|e| e.to_string())?;
                let live_here: HashSet<String> = live
                    .iter()
                    .filter(|(p, _)| p == name)
                    .map(|(_, w)| w.clone())
                    .collect();
                let mut deleted = HashSet::new();
                for path in retention::plan(spec, now, &logs, &svgs, &live_here) {
                    storage.delete(&path).await.map_err(|e| e.to_string())?;
                    events::retention_deleted(name, &path);
                    deleted.insert(path);
                }
                events::storage_usage(name, &retention::usage(spec, &logs, &svgs, &deleted));
                let kept: Vec<_> = logs
                    .into_iter()
                    .filter(|object| !deleted.contains(&object.path))
                    .collect();
                rollup_builder::build_missing(&storage, &spec.period, &kept, now, min_width)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        };
        // One pass at a time: a slow listing must not overlap the next tick's.
        ctx.wait(pass.into_actor(self).map(|result, _, _| {
            if let Err(error) = result {
                events::retention_failed(&error);
            }
        }));
    }
}

impl Retention {
    /// Report what is stored between passes, so `/status` and `arclamp_stored_bytes` follow
    /// a store that fills up (the demo, a new deployment) within a minute rather than an
    /// interval. Small stores only: past [`USAGE_REFRESH_MAX_OBJECTS`] the listings cost
    /// more than the freshness is worth, and the passes alone report.
    fn refresh_usage(&mut self, ctx: &mut Context<Self>) {
        if self.interval <= USAGE_REFRESH || self.objects_seen > USAGE_REFRESH_MAX_OBJECTS {
            return;
        }
        let (periods, storage) = (self.periods.clone(), self.storage.clone());
        let refresh = async move {
            let mut objects = 0;
            for spec in &periods {
                let name = spec.period.name();
                let (logs, svgs) = list_period(storage.as_ref(), name).await.ok()?;
                objects += logs.len() + svgs.len();
                let usage = retention::usage(spec, &logs, &svgs, &HashSet::new());
                events::storage_usage(name, &usage);
            }
            Some(objects)
        };
        ctx.wait(refresh.into_actor(self).map(|objects, act, _| {
            if let Some(objects) = objects {
                act.objects_seen = objects;
            }
        }));
    }
}

/// The period's logs and graphs, as a pass and a usage refresh both read them.
async fn list_period(
    storage: &dyn Storage,
    period: &str,
) -> Result<(Vec<ObjectInfo>, Vec<ObjectInfo>), StorageError> {
    let logs = storage.list(&layout::logs_prefix(period)).await?;
    let svgs = storage.list(&layout::svgs_prefix(period)).await?;
    Ok((logs, svgs))
}

impl Actor for Retention {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(USAGE_REFRESH, |act, ctx| act.refresh_usage(ctx));
        for spec in &self.periods {
            tracing::debug!(
                period = spec.period.name(),
                retain = spec.retain,
                max_age = retention::describe_age(spec.max_age),
                "retention policy"
            );
        }
        self.pass(ctx);
        self.schedule(ctx);
    }
}

impl actix::Supervised for Retention {
    fn restarting(&mut self, _: &mut Context<Self>) {
        events::actor_restarted("retention", "stopped");
    }
}

impl Handler<RunPass> for Retention {
    type Result = ();

    fn handle(&mut self, _: RunPass, ctx: &mut Context<Self>) {
        self.pass(ctx);
    }
}

impl Handler<Reconfigure> for Retention {
    type Result = ();

    fn handle(&mut self, update: Reconfigure, ctx: &mut Context<Self>) {
        let retime = update.interval != self.interval;
        self.periods = update.periods;
        self.interval = update.interval;
        self.min_width = update.min_width;
        if retime {
            self.schedule(ctx);
        }
    }
}

impl Handler<UseRouter> for Retention {
    type Result = ();

    fn handle(&mut self, UseRouter(router): UseRouter, _: &mut Context<Self>) {
        self.router = router;
    }
}
