//! The writer lease (pub/sub mode): of the instances subscribed to one Redis, only the one
//! holding the lease counts and writes windows; the others stand by, buffering (see
//! [`crate::ingest::handover`]). This actor takes and renews the lease every third of its
//! time to live, tells the router when this instance becomes the writer, and, at shutdown,
//! publishes the handover markers and lets the lease go naming the cut.
//!
//! An instance that finds its lease taken by another (it could not renew in time) exits
//! at once without writing: its windows would overwrite those of the new writer. Bridging,
//! it holds nothing counted (its appends are fenced by the lease), so it stands by again
//! instead.
//!
//! Bridging, the lease goes to the instance subscribed the longest: each renewal records
//! this instance's subscription (watched from the subscriber), and a writer whose
//! subscription is younger than a standby's (it resubscribed after a Redis restart or a
//! dropped connection, while the standby received what it did not) steps down: its router
//! stands by, its bridge appends what it let through, and it lets the lease go to the
//! standby, which forwards what follows its last appends. A writer that is still the
//! oldest resumes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use redis::aio::MultiplexedConnection;
use tokio::sync::watch;

use crate::actors::router::{Resume, Router, StepDown, TakeOver, UseRouter};
use crate::ingest::handover::{self, Cut, SubscriptionStatus};
use crate::ops::events;
use crate::store::ledger::{Lease, Ledger, Subscription, WriterRole};
use crate::store::redis_connection::kept_or_new;

/// What the writer lease needs from the config.
#[derive(Debug, Clone)]
pub struct WriterLeaseSettings {
    /// The Redis URL.
    pub url: String,
    /// The channels (markers are published on each).
    pub channels: Vec<String>,
    /// The lease's time to live.
    pub ttl: Duration,
    /// This instance's token.
    pub token: String,
    /// Bridge mode: read the previous writer's last appends when taking the lease.
    pub bridge: bool,
}

/// The writer lease was taken by another instance: stop now, without writing.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WriterLeaseLost;

/// Shutdown: publish the handover marker `nonce` on every channel. Answers whether it was
/// published (this instance holds the lease and Redis answered).
#[derive(Message)]
#[rtype(result = "bool")]
pub struct PublishMarkers {
    /// The marker's nonce.
    pub nonce: String,
}

/// Shutdown: let the lease go, after recording `cut` (the nonce counted up to) for the
/// next writer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Release {
    /// The nonce, when every channel was counted up to its marker.
    pub cut: Option<String>,
}

/// The writer lease actor.
pub struct WriterLease {
    settings: WriterLeaseSettings,
    lease: Lease,
    ledger: Ledger,
    router: Addr<Router>,
    on_lost: Recipient<WriterLeaseLost>,
    connection: Option<MultiplexedConnection>,
    held: bool,
    released: bool,
    /// Bridge mode: this instance's subscription, as the subscriber announces it.
    subscription: watch::Receiver<SubscriptionStatus>,
    /// The subscription generation recorded with the lease (`None`: none recorded).
    recorded: Option<u64>,
}

/// The subscription changed: renew now, so its age is recorded at once.
struct SubscriptionMoved;

impl WriterLease {
    /// The lease of `ledger`'s namespace, telling `router` when this instance writes and
    /// `on_lost` when another took the lease from it; bridging, `subscription` is what
    /// the subscriber announces.
    pub fn new(
        settings: WriterLeaseSettings,
        ledger: Ledger,
        router: Addr<Router>,
        on_lost: Recipient<WriterLeaseLost>,
        subscription: watch::Receiver<SubscriptionStatus>,
    ) -> WriterLease {
        WriterLease {
            lease: ledger.writer_lease(),
            settings,
            ledger,
            router,
            on_lost,
            connection: None,
            held: false,
            released: false,
            subscription,
            recorded: None,
        }
    }

    /// Bridge mode: what to record of the subscription on this renewal.
    fn subscription_now(&self) -> (Subscription, SubscriptionStatus) {
        let status = *self.subscription.borrow();
        let subscription = if !status.live {
            Subscription::None
        } else if self.recorded == Some(status.generation) {
            Subscription::Kept
        } else {
            Subscription::New
        };
        (subscription, status)
    }

    /// Bridge mode: hand the lease to the instance subscribed longer. The router stands
    /// by and the bridge appends what it was given (bounded by the lease's time to live:
    /// past it the new writer may hold the lease, and its appends are fenced off anyway),
    /// then the lease is let go.
    fn step_down(&mut self, ctx: &mut Context<Self>) {
        let (router, lease, connection, url, token, ttl) = (
            self.router.clone(),
            self.lease.clone(),
            self.connection.take(),
            self.settings.url.clone(),
            self.settings.token.clone(),
            self.settings.ttl,
        );
        let step_down = async move {
            let flushed = match tokio::time::timeout(ttl, router.send(StepDown)).await {
                // Handing over (shutting down): the shutdown lets the lease go.
                Ok(Ok(None)) => return (connection, None),
                Ok(Ok(Some(flushed))) => flushed,
                _ => false,
            };
            let mut con = kept_or_new(connection, &url).await.ok();
            if let Some(con) = con.as_mut() {
                if lease.release(con, &token).await.is_err() {
                    // It lapses on its own within its time to live.
                    return (None, Some(flushed));
                }
            }
            (con, Some(flushed))
        };
        ctx.wait(step_down.into_actor(self).map(|(con, flushed), act, _| {
            act.connection = con;
            if let Some(flushed) = flushed {
                act.held = false;
                events::bridge_stepped_down(flushed);
                events::pubsub_writer(false, None, false);
            }
        }));
    }

    /// Take or renew the lease; what changed is reported, a failure is retried next time.
    fn renew(&mut self, ctx: &mut Context<Self>) {
        if self.released {
            return;
        }
        let (lease, ledger, settings) = (
            self.lease.clone(),
            self.ledger.clone(),
            self.settings.clone(),
        );
        let connection = self.connection.take();
        let held_before = self.held;
        let (subscription, status) = self.subscription_now();
        let attempt = async move {
            let mut con = kept_or_new(connection, &settings.url)
                .await
                .map_err(|e| e.to_string())?;
            let ttl = settings.ttl.as_millis() as u64;
            let role = if settings.bridge {
                // A record lives one lease ttl: renewed three times in it, and a killed
                // instance's record is gone by the time its lease is.
                ledger
                    .hold_bridge_writer(&mut con, &settings.token, ttl, subscription, ttl)
                    .await
                    .map_err(|e| e.to_string())?
            } else if lease
                .hold(&mut con, &settings.token, ttl)
                .await
                .map_err(|e| e.to_string())?
            {
                WriterRole::Writer
            } else {
                WriterRole::Standby
            };
            let held = role != WriterRole::Standby;
            let mut cut = Cut::Unknown;
            if held && !held_before {
                let handover = ledger
                    .take_handover(&mut con)
                    .await
                    .map_err(|e| e.to_string())?;
                if let Some(nonce) = handover {
                    cut = Cut::Marker(nonce);
                } else if settings.bridge {
                    // The lease fences the old writer's appends: this tail is final.
                    let mut tails = HashMap::new();
                    for channel in &settings.channels {
                        let tail = ledger
                            .bridge_tail(&mut con, channel)
                            .await
                            .map_err(|e| e.to_string())?;
                        tails.insert(Arc::from(channel.as_str()), tail);
                    }
                    cut = Cut::Tails(tails);
                }
            }
            Ok::<_, String>((con, role, cut))
        };
        ctx.wait(
            attempt
                .into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok((con, role, cut)) => {
                        act.connection = Some(con);
                        act.recorded = status.live.then_some(status.generation);
                        let held = role != WriterRole::Standby;
                        if role == WriterRole::StepDown && act.held {
                            act.step_down(ctx);
                            return;
                        }
                        if held && act.held && status.live {
                            // A writer suspended since its subscription broke goes on (the router
                            // ignores this unless it is suspended for this very subscription).
                            act.router.do_send(Resume {
                                generation: status.generation,
                            });
                        }
                        if held && !act.held {
                            let (nonce, tails) = match &cut {
                                Cut::Marker(nonce) => (Some(nonce.as_str()), false),
                                Cut::Tails(_) => (None, true),
                                Cut::Unknown => (None, false),
                            };
                            events::pubsub_writer(true, nonce, tails);
                            act.router.do_send(TakeOver { cut });
                        } else if !held && act.held && act.settings.bridge {
                            // Bridging, this instance counts nothing itself: it stands by
                            // again (its appends are fenced off now), and the new writer
                            // forwards what follows its last append.
                            events::bridge_lease_taken();
                            act.router.do_send(StepDown);
                            events::pubsub_writer(false, None, false);
                        } else if !held && act.held {
                            events::writer_lease_lost();
                            act.on_lost.do_send(WriterLeaseLost);
                        } else if !held {
                            events::pubsub_writer(false, None, false);
                        }
                        act.held = held;
                    }
                    // Redis is unavailable: the subscriber reports it; keep the role, retry.
                    Err(error) => {
                        act.connection = None;
                        tracing::debug!(error, "could not renew the writer lease: retrying");
                    }
                }),
        );
    }
}

impl Actor for WriterLease {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        events::pubsub_writer(false, None, false);
        self.renew(ctx);
        let every = (self.settings.ttl / 3).max(Duration::from_millis(100));
        ctx.run_interval(every, |act, ctx| act.renew(ctx));
        if self.settings.bridge {
            let changes = futures_util::stream::unfold(self.subscription.clone(), |mut rx| async {
                rx.changed().await.ok()?;
                Some((SubscriptionMoved, rx))
            });
            ctx.add_stream(changes);
        }
    }
}

impl StreamHandler<SubscriptionMoved> for WriterLease {
    fn handle(&mut self, _: SubscriptionMoved, ctx: &mut Context<Self>) {
        self.renew(ctx);
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        // The subscriber's sender lives as long as the process: nothing to do (and the
        // default would stop this actor).
    }
}

impl Handler<UseRouter> for WriterLease {
    type Result = ();

    fn handle(&mut self, UseRouter(router): UseRouter, _: &mut Context<Self>) {
        // A new router starts as a standby: it counts if this instance writes.
        if self.held {
            router.do_send(TakeOver { cut: Cut::Unknown });
        }
        self.router = router;
    }
}

impl Handler<PublishMarkers> for WriterLease {
    type Result = ResponseActFuture<Self, bool>;

    fn handle(
        &mut self,
        PublishMarkers { nonce }: PublishMarkers,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let (held, connection, url, channels) = (
            self.held,
            self.connection.take(),
            self.settings.url.clone(),
            self.settings.channels.clone(),
        );
        let publish = async move {
            if !held {
                return (connection, false);
            }
            let Ok(mut con) = kept_or_new(connection, &url).await else {
                return (None, false);
            };
            let payload = handover::marker(&nonce);
            for channel in &channels {
                let published: Result<i64, _> = redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(&payload)
                    .query_async(&mut con)
                    .await;
                if published.is_err() {
                    return (None, false);
                }
            }
            (Some(con), true)
        };
        Box::pin(
            publish
                .into_actor(self)
                .map(|(connection, published), act, _| {
                    act.connection = connection;
                    published
                }),
        )
    }
}

impl Handler<Release> for WriterLease {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, Release { cut }: Release, _: &mut Context<Self>) -> Self::Result {
        self.released = true;
        let (held, connection, url) =
            (self.held, self.connection.take(), self.settings.url.clone());
        let (lease, ledger, token) = (
            self.lease.clone(),
            self.ledger.clone(),
            self.settings.token.clone(),
        );
        // The nonce is kept long enough for a standby that takes over late to find it.
        let keep = (self.settings.ttl * 10).max(Duration::from_secs(60));
        let release = async move {
            if !held {
                return;
            }
            let started = Instant::now();
            let Ok(mut con) = kept_or_new(connection, &url).await else {
                return;
            };
            if let Some(nonce) = &cut {
                let _ = ledger
                    .record_handover(&mut con, nonce, keep.as_millis() as u64)
                    .await;
            }
            let _ = lease.release(&mut con, &token).await;
            tracing::info!(
                took_ms = started.elapsed().as_millis() as u64,
                "writer lease released"
            );
        };
        Box::pin(release.into_actor(self).map(|_, act, _| {
            act.held = false;
            events::pubsub_writer(false, None, false);
        }))
    }
}
