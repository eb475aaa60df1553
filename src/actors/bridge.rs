//! The bridge (bridge mode): appends the pub/sub messages the router lets through to the
//! streams named after their channels, in the order received, so that the stream readers
//! count them durably. What it holds is only what it has not appended yet (milliseconds'
//! worth while Redis answers), so killing this instance loses almost nothing.
//!
//! Every append is fenced by the writer lease (see [`crate::store::ledger`]): once another
//! instance holds the lease, this one's appends are refused and dropped, because the new
//! writer forwards everything after this one's last append (see
//! [`crate::ingest::handover`]). When Redis fails, the messages stay here and are retried,
//! in order, with the supervisor's backoff.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use redis::aio::MultiplexedConnection;
use tokio::sync::oneshot;

use crate::config::SupervisorConfig;
use crate::ops::events;
use crate::store::ledger::{Ledger, LedgerError};
use crate::store::redis_connection::kept_or_new;

/// Most messages in one append (one Lua call).
const BATCH_MESSAGES: usize = 512;
/// Most payload bytes in one append.
const BATCH_BYTES: usize = 4 << 20;
/// Most messages held while appends fail with Redis up (e.g. out of memory and refusing
/// writes): about 6 hours at 35 messages/s, a few hundred MB. Further ones are dropped and
/// counted rather than growing without bound.
const MAX_PENDING: usize = 800_000;

/// What the bridge needs from the config.
#[derive(Debug, Clone)]
pub struct BridgeSettings {
    /// The Redis URL.
    pub url: String,
    /// The writer lease's token of this instance (the fence).
    pub token: String,
    /// `redis.bridge_max_len`.
    pub max_len: u64,
    /// Retry delays.
    pub backoff: SupervisorConfig,
}

/// Messages to append, in the order received: (channel, payload).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Append(pub Vec<(Arc<str>, Vec<u8>)>);

/// Answer once everything received so far is appended (or refused by the fence): `true`.
/// Shutdown waits for it before letting the lease go.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct FlushBridge;

/// The bridge actor.
pub struct Bridge {
    settings: BridgeSettings,
    ledger: Ledger,
    connection: Option<MultiplexedConnection>,
    pending: VecDeque<(Arc<str>, Vec<u8>)>,
    /// An append is in flight (one at a time keeps the streams in the order received).
    busy: bool,
    /// The number of the batch at the front of `pending`: a retry sends the same number,
    /// so an append whose answer was lost is not made twice.
    batch: u64,
    /// The size of the batch whose append failed: its retry must carry the same messages.
    retrying: Option<usize>,
    /// Delay before the next retry; zero while Redis answers.
    retry_delay: Duration,
    flushed: Vec<oneshot::Sender<bool>>,
}

impl Bridge {
    /// A bridge appending under `ledger`'s writer lease.
    pub fn new(settings: BridgeSettings, ledger: Ledger) -> Bridge {
        Bridge {
            settings,
            ledger,
            connection: None,
            pending: VecDeque::new(),
            busy: false,
            batch: 0,
            retrying: None,
            retry_delay: Duration::ZERO,
            flushed: Vec::new(),
        }
    }

    /// Append the next batch, unless one is in flight or nothing waits.
    fn append_next(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        if self.pending.is_empty() {
            for waiter in self.flushed.drain(..) {
                let _ = waiter.send(true);
            }
            return;
        }
        let count = match self.retrying {
            Some(count) => count,
            None => {
                let (mut count, mut bytes) = (0, 0);
                for (_, payload) in &self.pending {
                    if count == BATCH_MESSAGES || (count > 0 && bytes + payload.len() > BATCH_BYTES)
                    {
                        break;
                    }
                    count += 1;
                    bytes += payload.len();
                }
                count
            }
        };
        let batch: Vec<(Arc<str>, Vec<u8>)> = self.pending.range(..count).cloned().collect();
        self.busy = true;
        let (ledger, settings, connection, number) = (
            self.ledger.clone(),
            self.settings.clone(),
            self.connection.take(),
            self.batch,
        );
        let append = async move {
            let mut con = kept_or_new(connection, &settings.url).await?;
            let messages: Vec<(&str, &[u8])> = batch
                .iter()
                .map(|(channel, payload)| (&**channel, payload.as_slice()))
                .collect();
            let appended = ledger
                .bridge_append(
                    &mut con,
                    &settings.token,
                    number,
                    settings.max_len,
                    &messages,
                )
                .await?;
            Ok::<_, LedgerError>((con, appended, batch))
        };
        ctx.spawn(append.into_actor(self).map(move |result, act, ctx| {
            act.busy = false;
            match result {
                Ok((con, appended, batch)) => {
                    act.connection = Some(con);
                    act.pending.drain(..count);
                    act.batch += 1;
                    act.retrying = None;
                    if act.retry_delay > Duration::ZERO {
                        events::bridge_recovered();
                    }
                    act.retry_delay = Duration::ZERO;
                    match appended {
                        Some(_) => events::bridged(&batch),
                        None => events::bridge_fenced(batch.len()),
                    }
                    act.append_next(ctx);
                }
                Err(error) => {
                    act.retrying = Some(count);
                    let first = act.retry_delay.is_zero();
                    act.retry_delay = if first {
                        act.settings.backoff.backoff_min
                    } else {
                        (act.retry_delay * 2).min(act.settings.backoff.backoff_max)
                    };
                    events::bridge_append_failed(
                        &error.to_string(),
                        act.pending.len(),
                        first,
                        act.retry_delay,
                    );
                    ctx.run_later(act.retry_delay, |act, ctx| act.append_next(ctx));
                }
            }
        }));
    }
}

impl Actor for Bridge {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // After a restart, what is still pending goes on at once.
        self.append_next(ctx);
    }
}

impl actix::Supervised for Bridge {
    fn restarting(&mut self, _: &mut Context<Self>) {
        // What is pending survives a restart (the struct is kept); a retry timer does not.
        self.busy = false;
        self.connection = None;
        self.retry_delay = Duration::ZERO;
    }
}

impl Handler<Append> for Bridge {
    type Result = ();

    fn handle(&mut self, Append(mut messages): Append, ctx: &mut Context<Self>) {
        let room = MAX_PENDING.saturating_sub(self.pending.len());
        if messages.len() > room {
            events::bridge_dropped(messages.len() - room, MAX_PENDING);
            messages.truncate(room);
        }
        self.pending.extend(messages);
        events::bridge_pending(self.pending.len());
        if self.retry_delay.is_zero() {
            self.append_next(ctx);
        }
    }
}

impl Handler<FlushBridge> for Bridge {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, _: FlushBridge, ctx: &mut Context<Self>) -> Self::Result {
        let (sender, receiver) = oneshot::channel();
        self.flushed.push(sender);
        if self.retry_delay.is_zero() {
            self.append_next(ctx);
        }
        Box::pin(async move { receiver.await.unwrap_or(false) })
    }
}
