//! The writer lease (pub/sub mode): of the instances subscribed to one Redis, only the one
//! holding the lease counts and writes windows; the others stand by, buffering (see
//! [`crate::ingest::handover`]). This actor takes and renews the lease every third of its
//! time to live, tells the router when this instance becomes the writer, and, at shutdown,
//! publishes the handover markers and lets the lease go naming the cut.
//!
//! An instance that finds its lease taken by another (it could not renew in time) exits
//! at once without writing: its windows would overwrite those of the new writer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use redis::aio::MultiplexedConnection;

use crate::actors::router::{Router, TakeOver, UseRouter};
use crate::ingest::handover::{self, Cut};
use crate::ops::events;
use crate::store::ledger::{Lease, Ledger};
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
}

impl WriterLease {
    /// The lease of `ledger`'s namespace, telling `router` when this instance writes and
    /// `on_lost` when another took the lease from it.
    pub fn new(
        settings: WriterLeaseSettings,
        ledger: Ledger,
        router: Addr<Router>,
        on_lost: Recipient<WriterLeaseLost>,
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
        }
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
        let attempt = async move {
            let mut con = kept_or_new(connection, &settings.url)
                .await
                .map_err(|e| e.to_string())?;
            let ttl = settings.ttl.as_millis() as u64;
            let held = lease
                .hold(&mut con, &settings.token, ttl)
                .await
                .map_err(|e| e.to_string())?;
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
            Ok::<_, String>((con, held, cut))
        };
        ctx.wait(attempt.into_actor(self).map(|result, act, _| match result {
            Ok((con, held, cut)) => {
                act.connection = Some(con);
                if held && !act.held {
                    let (nonce, tails) = match &cut {
                        Cut::Marker(nonce) => (Some(nonce.as_str()), false),
                        Cut::Tails(_) => (None, true),
                        Cut::Unknown => (None, false),
                    };
                    events::pubsub_writer(true, nonce, tails);
                    act.router.do_send(TakeOver { cut });
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
        }));
    }
}

impl Actor for WriterLease {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        events::pubsub_writer(false, None, false);
        self.renew(ctx);
        let every = (self.settings.ttl / 3).max(Duration::from_millis(100));
        ctx.run_interval(every, |act, ctx| act.renew(ctx));
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
