//! The stream reader (stream mode): reads each channel's Redis Stream through the consumer
//! group and hands the entries to the delta actor, which counts and commits them. It does
//! nothing else, on a thread of its own.
//!
//! A *session* starts by taking a new epoch (so any commit still in flight from before is
//! refused), re-reads this consumer's own pending entries (delivered before, never
//! acknowledged), then reads new ones, and every quarter of `claim_after` takes over the
//! entries other consumers have left pending that long (fencing them first). Any failure
//! (Redis lost, a reply that makes no sense, a commit refused as fenced) ends the session;
//! the next one starts after a backoff that doubles from `supervisor.backoff_min` to
//! `supervisor.backoff_max` (at once after a fence). Nothing read is acknowledged here: an
//! entry stays pending until the delta actor's commit, so a session lost at any instant
//! loses nothing.

use std::time::{Duration, Instant};

use actix::prelude::*;
use redis::aio::MultiplexedConnection;
use redis::Value;
use tokio::sync::watch;

use crate::actors::delta::{Delta, DeltaState, Entries, NewEpoch};
use crate::config::{redact_url, SupervisorConfig};
use crate::ingest::stream::{parse_read, ReplyError, StreamEntry};
use crate::ops::events;
use crate::store::ledger::{Ledger, LedgerError};
use crate::store::redis_connection::{command_connection, reading_connection, NO_ANSWER};

/// Entries asked for per read.
const READ_COUNT: usize = 1000;
/// Longest a read waits for new entries (also how soon a shutdown is noticed).
const BLOCK: Duration = Duration::from_millis(1000);
/// Reading pauses while this many entries wait to be committed.
const MAX_UNCOMMITTED: usize = 50_000;

/// What the reader needs from the config.
#[derive(Debug, Clone)]
pub struct ReaderSettings {
    /// The Redis URL.
    pub url: String,
    /// The stream keys (the configured channels).
    pub channels: Vec<String>,
    /// This consumer's name.
    pub consumer: String,
    /// Entries other consumers have held this long are claimed.
    pub claim_after: Duration,
    /// Restart backoff.
    pub backoff: SupervisorConfig,
}

/// Stop reading and answer once the current read is over (shutdown). What was read is the
/// delta actor's to commit.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopReading;

/// The stream reader actor.
pub struct StreamReader {
    settings: ReaderSettings,
    ledger: Ledger,
    delta: Addr<Delta>,
    stop: watch::Sender<bool>,
    stopped: watch::Receiver<bool>,
}

impl StreamReader {
    /// A reader handing what it reads to `delta`.
    pub fn new(settings: ReaderSettings, ledger: Ledger, delta: Addr<Delta>) -> StreamReader {
        let (stop, _) = watch::channel(false);
        let (_, stopped) = watch::channel(false);
        StreamReader {
            settings,
            ledger,
            delta,
            stop,
            stopped,
        }
    }
}

impl Actor for StreamReader {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (stopped_tx, stopped_rx) = watch::channel(false);
        self.stopped = stopped_rx;
        let reader = Reader {
            settings: self.settings.clone(),
            ledger: self.ledger.clone(),
            delta: self.delta.clone(),
            stop: self.stop.subscribe(),
        };
        ctx.spawn(
            async move {
                reader.run().await;
                let _ = stopped_tx.send(true);
            }
            .into_actor(self),
        );
    }
}

impl Handler<StopReading> for StreamReader {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: StopReading, _: &mut Context<Self>) -> Self::Result {
        let _ = self.stop.send(true);
        let mut stopped = self.stopped.clone();
        Box::pin(async move {
            let _ = stopped.wait_for(|stopped| *stopped).await;
        })
    }
}

/// Why a session ended.
enum SessionEnd {
    /// Asked to stop.
    Stopped,
    /// This consumer was fenced: start a new epoch now.
    Fenced,
    /// Redis failed or made no sense: back off, then start again.
    Failed(String),
}

impl From<redis::RedisError> for SessionEnd {
    fn from(error: redis::RedisError) -> SessionEnd {
        SessionEnd::Failed(error.to_string())
    }
}

impl From<LedgerError> for SessionEnd {
    fn from(error: LedgerError) -> SessionEnd {
        SessionEnd::Failed(error.to_string())
    }
}

impl From<ReplyError> for SessionEnd {
    fn from(error: ReplyError) -> SessionEnd {
        SessionEnd::Failed(error.to_string())
    }
}

struct Reader {
    settings: ReaderSettings,
    ledger: Ledger,
    delta: Addr<Delta>,
    stop: watch::Receiver<bool>,
}

impl Reader {
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    async fn run(mut self) {
        let url = redact_url(&self.settings.url);
        let mut delay = Duration::ZERO;
        let mut outage_since: Option<Instant> = None;
        let mut connected_once = false;
        while !self.stopping() {
            let mut on_connected = |reader: &Reader| {
                let after = outage_since
                    .take()
                    .filter(|_| connected_once)
                    .map(|t| t.elapsed());
                connected_once = true;
                events::redis_connected(&url, &reader.settings.channels, after);
            };
            match self.session(&mut on_connected).await {
                SessionEnd::Stopped => break,
                SessionEnd::Fenced => delay = Duration::ZERO,
                SessionEnd::Failed(error) => {
                    let first = outage_since.is_none();
                    outage_since.get_or_insert_with(Instant::now);
                    delay = if delay.is_zero() {
                        self.settings.backoff.backoff_min
                    } else {
                        (delay * 2).min(self.settings.backoff.backoff_max)
                    };
                    events::redis_unavailable(&url, &error, first, delay);
                    let mut stop = self.stop.clone();
                    let _ = tokio::time::timeout(delay, stop.wait_for(|s| *s)).await;
                }
            }
        }
    }

    /// Hand entries to the delta actor; a fence ends the session.
    async fn hand(
        &self,
        epoch: u64,
        how: &'static str,
        entries: Vec<StreamEntry>,
    ) -> Result<DeltaState, SessionEnd> {
        let state = self
            .delta
            .send(Entries {
                epoch,
                how,
                entries,
            })
            .await
            .map_err(|_| SessionEnd::Failed("the delta actor is gone".into()))?;
        if state.fenced {
            return Err(SessionEnd::Fenced);
        }
        Ok(state)
    }

    async fn read(
        &self,
        connection: &mut MultiplexedConnection,
        ids: &[String],
        block: Option<Duration>,
    ) -> Result<Vec<StreamEntry>, SessionEnd> {
        let mut command = redis::cmd("XREADGROUP");
        command
            .arg("GROUP")
            .arg(self.ledger.group())
            .arg(&self.settings.consumer)
            .arg("COUNT")
            .arg(READ_COUNT);
        if let Some(block) = block {
            command.arg("BLOCK").arg(block.as_millis() as u64);
        }
        command.arg("STREAMS").arg(&self.settings.channels).arg(ids);
        let reply: Value = tokio::time::timeout(
            block.unwrap_or_default() + NO_ANSWER,
            command.query_async(connection),
        )
        .await
        .map_err(|_| {
            SessionEnd::Failed(format!("no answer to XREADGROUP within {NO_ANSWER:?}"))
        })??;
        Ok(parse_read(reply, &self.settings.channels)?)
    }

    async fn session(&mut self, on_connected: &mut impl FnMut(&Reader)) -> SessionEnd {
        match self.try_session(on_connected).await {
            Ok(()) => SessionEnd::Stopped,
            Err(end) => end,
        }
    }

    async fn try_session(
        &mut self,
        on_connected: &mut impl FnMut(&Reader),
    ) -> Result<(), SessionEnd> {
        let mut reading = reading_connection(&self.settings.url).await?;
        let mut commands = command_connection(&self.settings.url).await?;
        for channel in &self.settings.channels {
            self.ledger.ensure_group(&mut commands, channel).await?;
            self.ledger
                .record_unread_baseline(&mut commands, channel)
                .await?;
        }
        let epoch = self
            .ledger
            .new_epoch(&mut commands, &self.settings.consumer)
            .await?;
        self.delta
            .send(NewEpoch(epoch))
            .await
            .map_err(|_| SessionEnd::Failed("the delta actor is gone".into()))?;
        on_connected(self);

        // This consumer's own pending entries first: read before, never acknowledged. No
        // claiming meanwhile, or a claimed entry would be read twice (claimed, then again
        // from the pending list).
        let mut cursors = vec!["0".to_owned(); self.settings.channels.len()];
        loop {
            let entries = self.read(&mut reading, &cursors, None).await?;
            if entries.is_empty() {
                break;
            }
            for entry in &entries {
                cursors[entry.stream] = entry.id.to_string();
            }
            self.hand(epoch, "pending", entries).await?;
        }

        let claim_every = (self.settings.claim_after / 4).max(Duration::from_millis(50));
        let mut last_claim: Option<Instant> = None;
        let mut state = DeltaState {
            uncommitted: 0,
            fenced: false,
            healthy: true,
        };
        let new = vec![">".to_owned(); self.settings.channels.len()];
        while !self.stopping() {
            if state.healthy && last_claim.is_none_or(|t| t.elapsed() >= claim_every) {
                last_claim = Some(Instant::now());
                self.claim(&mut commands, epoch).await?;
            }
            if state.uncommitted >= MAX_UNCOMMITTED {
                // Commits are behind (a slow or failing store): wait for them, reading
                // nothing more, so memory stays bounded.
                tokio::time::sleep(Duration::from_millis(50)).await;
                state = self.hand(epoch, "new", Vec::new()).await?;
                continue;
            }
            let block = BLOCK.min(claim_every);
            let entries = self.read(&mut reading, &new, Some(block)).await?;
            state = self.hand(epoch, "new", entries).await?;
        }
        Ok(())
    }

    /// Take over what other consumers have left pending longer than `claim_after`.
    async fn claim(
        &self,
        commands: &mut MultiplexedConnection,
        epoch: u64,
    ) -> Result<(), SessionEnd> {
        let min_idle = self.settings.claim_after.as_millis() as u64;
        for (index, channel) in self.settings.channels.iter().enumerate() {
            let mut start = "-".to_owned();
            loop {
                let claimed = self
                    .ledger
                    .claim(
                        commands,
                        channel,
                        index,
                        &self.settings.consumer,
                        min_idle,
                        &start,
                    )
                    .await?;
                events::stream_entries_lost(channel, "pending", claimed.trimmed);
                if !claimed.entries.is_empty() {
                    events::stream_entries_claimed(channel, claimed.entries.len() as u64);
                    self.hand(epoch, "claimed", claimed.entries).await?;
                }
                match claimed.next {
                    Some(next) => start = next,
                    None => break,
                }
            }
        }
        Ok(())
    }
}
