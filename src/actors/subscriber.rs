//! The subscriber: owns the Redis pub/sub connection and forwards what it reads, in
//! batches, to the router on the ingest arbiter. It does nothing else, so it keeps
//! reading at full speed and Redis never has to drop it for a full output buffer.
//!
//! Failure is handled by stopping: when the connection cannot be made, ends, or stops
//! answering pings, the actor stops and its actix `Supervisor` restarts it, after a delay
//! that doubles from `supervisor.backoff_min` to `supervisor.backoff_max`. An outage is
//! logged once when it starts and once when it ends.
//!
//! Each subscription's start and end is announced (a [`SubscriptionStatus`]): to the
//! router in line with the messages, and to whoever watches (the writer lease).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::{FutureExt, StreamExt};
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::actors::router::{Ingest, RawMessage, Router, SubscriptionChanged};
use crate::config::{redact_url, RedisConfig, SupervisorConfig};
use crate::ingest::handover::SubscriptionStatus;
use crate::ops::events;
use crate::store::redis_connection::redis_client;

/// How often a live connection is pinged; a ping not answered within the same time ends
/// the connection, so a silently dead network is noticed within about 2x this.
const PING_EVERY: Duration = Duration::from_secs(3);
/// Connecting gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Most messages handed to the router in one batch.
const BATCH: usize = 512;

/// Unsubscribe, forward everything received before the unsubscription took effect, and
/// stay disconnected (shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

/// New Redis and supervisor settings (reload).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reconfigure {
    /// `[redis]`.
    pub redis: RedisConfig,
    /// `[supervisor]`.
    pub supervisor: SupervisorConfig,
}

enum Command {
    SetChannels(Vec<String>),
    Drain(oneshot::Sender<()>),
}

/// Why a connection ended.
enum ConnectionEnd {
    Lost(String),
    Drained(oneshot::Sender<()>),
}

/// Where the subscription's state is published; shared by every subscriber this process
/// starts, so generations keep counting when one is replaced.
pub type SubscriptionSender = Arc<watch::Sender<SubscriptionStatus>>;

/// The subscriber actor. Run it under `actix::Supervisor`.
pub struct Subscriber {
    redis: RedisConfig,
    backoff: SupervisorConfig,
    router: Addr<Router>,
    status: SubscriptionSender,
    /// The generation of this subscriber's live subscription.
    generation: Option<u64>,
    /// Delay before the next connection attempt.
    next_delay: Duration,
    /// When the current outage began, if Redis is unavailable.
    outage_since: Option<Instant>,
    /// Whether the current outage has been logged.
    outage_logged: bool,
    commands: Option<mpsc::UnboundedSender<Command>>,
    /// The connection attempt in progress (with its backoff delay), if any. It runs
    /// beside the mailbox, not instead of it, so a shutdown's [`Drain`] is answered at
    /// once during an outage instead of waiting for Redis to come back.
    connecting: Option<SpawnHandle>,
    draining: bool,
    /// Ever connected: a later disconnection is an outage, not a failed start.
    restarted: bool,
}

impl Subscriber {
    /// A subscriber forwarding to `router` and announcing its subscription on `status`.
    pub fn new(
        redis: RedisConfig,
        backoff: SupervisorConfig,
        router: Addr<Router>,
        status: SubscriptionSender,
    ) -> Self {
        Subscriber {
            redis,
            backoff,
            router,
            status,
            generation: None,
            next_delay: Duration::ZERO,
            outage_since: None,
            outage_logged: false,
            commands: None,
            connecting: None,
            draining: false,
            restarted: false,
        }
    }

    /// Announce that the subscription started (a new generation) or ended. The router
    /// hears it after every message of the connection that ended.
    fn announce(&mut self, live: bool) {
        let generation = if live {
            self.status.send_modify(|status| {
                status.generation += 1;
                status.live = true;
            });
            let generation = self.status.borrow().generation;
            self.generation = Some(generation);
            generation
        } else {
            // Only the end of this subscriber's own subscription: one that replaced it
            // (after the router died) may be subscribed already.
            let Some(mine) = self.generation.take() else {
                return;
            };
            self.status.send_if_modified(|status| {
                let ends = status.generation == mine && status.live;
                if ends {
                    status.live = false;
                }
                ends
            });
            mine
        };
        self.router
            .do_send(SubscriptionChanged(SubscriptionStatus { generation, live }));
    }

    fn fail(&mut self, error: String, ctx: &mut Context<Self>) {
        self.announce(false);
        self.outage_since.get_or_insert_with(Instant::now);
        self.next_delay = if self.next_delay.is_zero() {
            self.backoff.backoff_min
        } else {
            (self.next_delay * 2).min(self.backoff.backoff_max)
        };
        events::redis_unavailable(
            &redact_url(&self.redis.url),
            &error,
            !self.outage_logged,
            self.next_delay,
        );
        self.outage_logged = true;
        self.commands = None;
        ctx.stop();
    }

    /// `subscribed` is the channel list the connection subscribed to; a reload may have
    /// changed the wanted list while it was being made.
    fn on_connected(
        &mut self,
        sink: PubSubSink,
        stream: PubSubStream,
        subscribed: Vec<String>,
        ctx: &mut Context<Self>,
    ) {
        events::redis_connected(
            &redact_url(&self.redis.url),
            &self.redis.channels,
            self.outage_since.take().map(|t| t.elapsed()),
        );
        self.outage_logged = false;
        self.next_delay = Duration::ZERO;
        self.announce(true);
        let (tx, rx) = mpsc::unbounded_channel();
        if subscribed != self.redis.channels {
            // Cannot fail: `rx` is alive.
            let _ = tx.send(Command::SetChannels(self.redis.channels.clone()));
        }
        self.commands = Some(tx);
        let connection = run_connection(sink, stream, subscribed, self.router.clone(), rx);
        ctx.spawn(connection.into_actor(self).map(|end, act, ctx| match end {
            ConnectionEnd::Lost(error) => act.fail(error, ctx),
            ConnectionEnd::Drained(done) => {
                act.commands = None;
                act.announce(false);
                let _ = done.send(());
            }
        }));
    }
}

impl Actor for Subscriber {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.draining {
            return;
        }
        let delay = self.next_delay;
        let url = self.redis.url.clone();
        let channels = self.redis.channels.clone();
        let connect = async move {
            tokio::time::sleep(delay).await;
            let connected = tokio::time::timeout(CONNECT_TIMEOUT, connect(&url, &channels))
                .await
                .map_err(|_| format!("no answer within {CONNECT_TIMEOUT:?}"))?;
            connected.map(|(sink, stream)| (sink, stream, channels))
        };
        let attempt = ctx.spawn(connect.into_actor(self).map(|result, act, ctx| {
            act.connecting = None;
            match result {
                Ok((sink, stream, subscribed)) if !act.draining => {
                    act.on_connected(sink, stream, subscribed, ctx)
                }
                Ok(_) => {}
                Err(error) => act.fail(error, ctx),
            }
        }));
        self.connecting = Some(attempt);
    }
}

impl actix::Supervised for Subscriber {
    fn restarting(&mut self, _: &mut Context<Self>) {
        if self.restarted {
            events::actor_restarted("subscriber", "Redis connection ended");
        }
        self.restarted = true;
    }
}

impl Handler<Drain> for Subscriber {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, ctx: &mut Context<Self>) -> Self::Result {
        self.draining = true;
        if let Some(attempt) = self.connecting.take() {
            // Not connected: nothing was received that is not forwarded already.
            ctx.cancel_future(attempt);
        }
        let Some(commands) = self.commands.take() else {
            return Box::pin(async {});
        };
        let (tx, rx) = oneshot::channel();
        if commands.send(Command::Drain(tx)).is_err() {
            return Box::pin(async {});
        }
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

impl Handler<Reconfigure> for Subscriber {
    type Result = ();

    fn handle(&mut self, update: Reconfigure, ctx: &mut Context<Self>) {
        self.backoff = update.supervisor;
        if update.redis.url != self.redis.url {
            // Drain what the old connection received, then connect to the new server.
            self.redis = update.redis;
            match self.commands.take() {
                Some(commands) => {
                    let (tx, rx) = oneshot::channel();
                    let _ = commands.send(Command::Drain(tx));
                    // spawn, not wait: waiting would also stop the connection task that
                    // has to carry out the drain.
                    ctx.spawn(
                        async move {
                            let _ = rx.await;
                        }
                        .into_actor(self)
                        .map(|_, act, ctx| {
                            act.next_delay = Duration::ZERO;
                            ctx.stop();
                        }),
                    );
                }
                None => {
                    // An attempt on the old URL may be in progress: give it up.
                    if let Some(attempt) = self.connecting.take() {
                        ctx.cancel_future(attempt);
                    }
                    self.next_delay = Duration::ZERO;
                    ctx.stop();
                }
            }
            return;
        }
        if update.redis.channels != self.redis.channels {
            if let Some(commands) = &self.commands {
                let _ = commands.send(Command::SetChannels(update.redis.channels.clone()));
            }
        }
        self.redis = update.redis;
    }
}

async fn connect(url: &str, channels: &[String]) -> Result<(PubSubSink, PubSubStream), String> {
    let client = redis_client(url).map_err(|e| e.to_string())?;
    let pubsub = client.get_async_pubsub().await.map_err(|e| e.to_string())?;
    let (mut sink, stream) = pubsub.split();
    sink.subscribe(channels).await.map_err(|e| e.to_string())?;
    Ok((sink, stream))
}

/// Hand a chunk of messages to the router. Channel names are shared, not allocated per
/// message: this runs for every message at full speed.
fn forward(router: &Addr<Router>, channels: &mut Vec<Arc<str>>, messages: Vec<redis::Msg>) {
    if messages.is_empty() {
        return;
    }
    let batch = messages
        .into_iter()
        .map(|msg| {
            let name = msg.get_channel_name();
            let channel = match channels.iter().find(|c| c.as_ref() == name) {
                Some(channel) => channel.clone(),
                None => {
                    let channel: Arc<str> = Arc::from(name);
                    channels.push(channel.clone());
                    channel
                }
            };
            RawMessage {
                channel,
                message: msg,
            }
        })
        .collect();
    router.do_send(Ingest(batch));
}

/// Read the connection until it ends; forward messages in batches; apply commands.
async fn run_connection(
    mut sink: PubSubSink,
    stream: PubSubStream,
    mut channels: Vec<String>,
    router: Addr<Router>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) -> ConnectionEnd {
    let mut stream = stream.ready_chunks(BATCH);
    let mut names: Vec<Arc<str>> = Vec::new();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            chunk = stream.next() => match chunk {
                Some(messages) => forward(&router, &mut names, messages),
                None => return ConnectionEnd::Lost("connection closed".into()),
            },
            command = commands.recv() => match command {
                Some(Command::SetChannels(wanted)) => {
                    let added: Vec<&String> = wanted.iter().filter(|c| !channels.contains(c)).collect();
                    let removed: Vec<&String> = channels.iter().filter(|c| !wanted.contains(c)).collect();
                    if !added.is_empty() {
                        if let Err(e) = sink.subscribe(&added).await {
                            return ConnectionEnd::Lost(format!("subscribe failed: {e}"));
                        }
                    }
                    if !removed.is_empty() {
                        if let Err(e) = sink.unsubscribe(&removed).await {
                            return ConnectionEnd::Lost(format!("unsubscribe failed: {e}"));
                        }
                    }
                    events::subscriptions_changed(&added, &removed);
                    channels = wanted;
                }
                Some(Command::Drain(done)) => {
                    // Redis answers UNSUBSCRIBE after every message published before it, and
                    // the driver queues messages in order: once the answer is in, whatever
                    // was received is already in the stream.
                    let _ = tokio::time::timeout(PING_EVERY, sink.unsubscribe(&channels)).await;
                    while let Some(Some(messages)) = stream.next().now_or_never() {
                        forward(&router, &mut names, messages);
                    }
                    return ConnectionEnd::Drained(done);
                }
                None => return ConnectionEnd::Lost("subscriber stopped".into()),
            },
            _ = ping.tick() => {
                match tokio::time::timeout(PING_EVERY, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return ConnectionEnd::Lost(format!("ping failed: {e}")),
                    Err(_) => return ConnectionEnd::Lost(format!("no answer to ping within {PING_EVERY:?}")),
                }
            }
        }
    }
}
