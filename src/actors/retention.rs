//! The retention actor: at start and every `retention.interval`, lists each period's logs
//! and graphs, asks the router which windows are live, deletes what
//! [`crate::store::retention::plan`] says, and reports what stays stored (bytes, oldest and newest
//! window per period) from the same listing.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::actors::router::{LiveWindows, Router, UseRouter};
use crate::config::PeriodSpec;
use crate::ops::clock::Clock;
use crate::ops::events;
use crate::store::layout;
use crate::store::retention;
use crate::store::storage::Storage;

/// New settings (reload).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reconfigure {
    /// Periods with their retention.
    pub periods: Vec<PeriodSpec>,
    /// Pass interval.
    pub interval: Duration,
}

/// Run a pass now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RunPass;

/// The retention actor.
pub struct Retention {
    periods: Vec<PeriodSpec>,
    interval: Duration,
    clock: Clock,
    storage: Arc<dyn Storage>,
    router: Addr<Router>,
    timer: Option<SpawnHandle>,
}

impl Retention {
    /// A retention actor over `storage`.
    pub fn new(
        periods: Vec<PeriodSpec>,
        interval: Duration,
        clock: Clock,
        storage: Arc<dyn Storage>,
        router: Addr<Router>,
    ) -> Self {
        Retention {
            periods,
            interval,
            clock,
            storage,
            router,
            timer: None,
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
        let pass = async move {
            let live = router
                .send(LiveWindows)
                .await
                .map_err(|e| format!("cannot ask the router for live windows: {e}"))?;
            for spec in &periods {
                let name = spec.period.name();
                let logs = storage
                    .list(&layout::logs_prefix(name))
                    .await
                    .map_err(|e| e.to_string())?;
                let svgs = storage
                    .list(&layout::svgs_prefix(name))
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

impl Actor for Retention {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
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
