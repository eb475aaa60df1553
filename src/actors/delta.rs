//! The delta actor (stream mode): counts the entries the stream reader hands it, per
//! channel and hour of each entry's id, and every `redis.commit_interval` (or sooner when
//! many entries wait) commits them: one segment object with a section per (channel, hour),
//! then one ledger script that indexes the sections and acknowledges the entries together,
//! unless this consumer has been fenced meanwhile.
//!
//! It holds only what arrived since its last commit, so its memory is one commit's delta,
//! whatever a day's diversity. A commit that fails (store or Redis down) is kept, encoded,
//! and retried before anything newer; its entries stay pending in Redis all along, so a
//! process killed at any instant loses nothing: whoever reads them next counts them. A
//! commit refused as fenced is dropped: the replica that claimed the entries counts them.
//!
//! Commits run one at a time, beside the counting: entries arriving meanwhile go into the
//! next delta. The reader, which awaits each hand-over, stops reading while too many
//! entries wait (a slow or failing store), so memory stays bounded.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use redis::aio::MultiplexedConnection;

use crate::ingest::batch::{ingest_batch, ChannelState, IngestSettings};
use crate::ingest::sample::Limits;
use crate::ingest::stacks::StackTable;
use crate::ingest::stream::{Body, EntryId, StreamEntry};
use crate::ingest::window::{Period, Window};
use crate::ops::events;
use crate::store::aggregate::{Snapshot, WindowCounts};
use crate::store::compress;
use crate::store::ledger::{CommitPlan, CommitSection, Ledger, LedgerError};
use crate::store::retention::{self, PeriodSpec};
use crate::store::segment::{self, SegmentBuilder};
use crate::store::storage::{ContentMeta, Storage};

/// Entries waiting that make a commit start before its interval.
const COMMIT_AT: usize = 10_000;
/// A written segment not committed within this long is written again before its commit:
/// garbage collection deletes unreferenced segments an hour old.
const REWRITE_AFTER: Duration = Duration::from_secs(600);

/// What the delta actor needs from the config.
#[derive(Debug, Clone)]
pub struct DeltaSettings {
    /// The stream keys, in the order the reader reads them.
    pub channels: Vec<String>,
    /// Every configured period; `hourly` is the one entries are counted in.
    pub periods: Vec<PeriodSpec>,
    /// Parse limits.
    pub limits: Limits,
    /// Keep one entry in this many (by id, so every replica keeps the same ones).
    pub sample_every: u64,
    /// How often to commit.
    pub commit_interval: Duration,
    /// This consumer's name.
    pub consumer: String,
    /// The Redis URL (commits run on a connection of their own).
    pub redis_url: String,
}

/// Entries read under `epoch`, to count.
#[derive(Message)]
#[rtype(result = "DeltaState")]
pub struct Entries {
    /// The reader's epoch when it read them.
    pub epoch: u64,
    /// How they were read: `new`, `pending` (re-read after a restart) or `claimed`.
    pub how: &'static str,
    /// The entries.
    pub entries: Vec<StreamEntry>,
}

/// The reader started a new epoch: whatever was read under an older one is dropped (it
/// is read again from the consumer's pending entries, or was claimed by another replica).
#[derive(Message)]
#[rtype(result = "()")]
pub struct NewEpoch(pub u64);

/// Commit now (shutdown); answers whether everything read is committed.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct CommitNow;

/// What the reader needs to know after handing entries over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaState {
    /// Entries read and not yet committed (the reader pauses when there are too many).
    pub uncommitted: usize,
    /// The last commit was refused as fenced: the reader must start a new epoch.
    pub fenced: bool,
    /// No failed commit is waiting: this replica may claim others' entries.
    pub healthy: bool,
}

/// The payloads of one channel's entries of one hour, to parse together.
type HourPayloads = (Window, Vec<Vec<u8>>);

/// What was counted since the last commit, taken out of the table.
struct TakenDelta {
    /// Per (channel index, hour): the window's stacks, to encode.
    snapshots: Vec<(usize, Window, Snapshot)>,
    /// Entry ids to acknowledge, per channel index.
    acks: BTreeMap<usize, Vec<EntryId>>,
}

/// A commit put together: its segment and what the ledger records.
struct Prepared {
    epoch: u64,
    segment: Bytes,
    plan: CommitPlan,
    entries: u64,
    written_at: Option<Instant>,
}

/// The delta actor.
pub struct Delta {
    settings: DeltaSettings,
    hourly: Period,
    storage: Arc<dyn Storage>,
    ledger: Ledger,
    connection: Option<MultiplexedConnection>,
    epoch: u64,
    table: StackTable,
    channel_states: HashMap<usize, ChannelState>,
    /// Counts per (channel index, hour window name).
    windows: BTreeMap<(usize, String), (Window, WindowCounts)>,
    /// Entry ids to acknowledge, per channel index.
    acks: BTreeMap<usize, Vec<EntryId>>,
    retry: Option<Prepared>,
    /// Entries of the commit being written.
    in_flight: usize,
    fenced: bool,
    committing: bool,
    sequence: u64,
    nonce: u64,
}

impl Delta {
    /// A delta actor with nothing counted. `settings.periods` must hold `hourly` (the config
    /// checks it in stream mode).
    pub fn new(
        settings: DeltaSettings,
        ledger: Ledger,
        storage: Arc<dyn Storage>,
    ) -> Result<Delta, String> {
        let hourly = retention::hourly(&settings.periods)
            .map(|s| s.period.clone())
            .ok_or("stream mode needs an hourly period")?;
        let nonce = crate::ops::clock::nonce();
        Ok(Delta {
            settings,
            hourly,
            storage,
            ledger,
            connection: None,
            epoch: 0,
            table: StackTable::new(),
            channel_states: HashMap::new(),
            windows: BTreeMap::new(),
            acks: BTreeMap::new(),
            retry: None,
            in_flight: 0,
            fenced: false,
            committing: false,
            sequence: 0,
            nonce,
        })
    }

    fn uncommitted(&self) -> usize {
        let waiting: usize = self.acks.values().map(Vec::len).sum();
        waiting + self.in_flight + self.retry.as_ref().map_or(0, |r| r.entries as usize)
    }

    fn state(&self) -> DeltaState {
        DeltaState {
            uncommitted: self.uncommitted(),
            fenced: self.fenced,
            healthy: self.retry.is_none(),
        }
    }

    /// Forget everything read and not committed (a new epoch reads it again).
    fn drop_delta(&mut self) -> usize {
        let dropped = self.uncommitted();
        for (_, (_, mut counts)) in std::mem::take(&mut self.windows) {
            counts.release_all(&mut self.table);
        }
        self.acks.clear();
        self.retry = None;
        dropped
    }

    fn keep(&self, id: EntryId) -> bool {
        let n = self.settings.sample_every.max(1);
        if n == 1 {
            return true;
        }
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&id.ms.to_le_bytes());
        bytes[8..].copy_from_slice(&id.seq.to_le_bytes());
        xxhash_rust::xxh3::xxh3_64(&bytes).is_multiple_of(n)
    }

    fn count(&mut self, how: &'static str, entries: Vec<StreamEntry>) {
        let mut read: BTreeMap<usize, u64> = BTreeMap::new();
        let mut lost: BTreeMap<(usize, &'static str), u64> = BTreeMap::new();
        let mut sampled_out: BTreeMap<usize, u64> = BTreeMap::new();
        // Payloads grouped by (channel, hour), in arrival order.
        let mut groups: BTreeMap<(usize, String), HourPayloads> = BTreeMap::new();
        let mut last_hour: Option<Window> = None;
        for entry in entries {
            if entry.stream >= self.settings.channels.len() {
                continue;
            }
            *read.entry(entry.stream).or_default() += 1;
            self.acks.entry(entry.stream).or_default().push(entry.id);
            match entry.body {
                Body::Trimmed => *lost.entry((entry.stream, "pending")).or_default() += 1,
                Body::NoData => *lost.entry((entry.stream, "no_data")).or_default() += 1,
                Body::Data(data) => {
                    if !self.keep(entry.id) {
                        *sampled_out.entry(entry.stream).or_default() += 1;
                        continue;
                    }
                    let Some(time) = entry.id.time() else {
                        *lost.entry((entry.stream, "bad_id")).or_default() += 1;
                        continue;
                    };
                    // Consecutive entries almost always share an hour: name it once.
                    let hour = match &last_hour {
                        Some(hour) if hour.start <= time && time < hour.end => hour.clone(),
                        _ => {
                            let hour = self.hourly.window_at(time);
                            last_hour = Some(hour.clone());
                            hour
                        }
                    };
                    groups
                        .entry((entry.stream, hour.name.clone()))
                        .or_insert_with(|| (hour, Vec::new()))
                        .1
                        .push(data);
                }
            }
        }
        let settings = IngestSettings {
            limits: self.settings.limits,
            max_entry_points: 0,
            sample_every: 1,
            periods: 1,
            tag_entries: false,
        };
        for ((stream, hour_name), (hour, payloads)) in groups {
            let channel = &self.settings.channels[stream];
            let state = self.channel_states.entry(stream).or_default();
            let outcome = ingest_batch(state, &settings, &mut self.table, &payloads);
            events::received(channel, outcome.messages, outcome.accepted);
            for (reason, count) in outcome.rejections {
                events::rejected(channel, reason, count);
            }
            let (_, counts) = self
                .windows
                .entry((stream, hour_name))
                .or_insert_with(|| (hour, WindowCounts::new()));
            for destination in outcome.destinations {
                events::aggregated(self.hourly.name(), &destination.entry, destination.total);
                for (id, count) in destination.samples {
                    counts.add(&mut self.table, id, u64::from(count));
                }
            }
        }
        for (stream, entries) in read {
            events::stream_entries_read(&self.settings.channels[stream], how, entries);
        }
        for ((stream, why), entries) in lost {
            events::stream_entries_lost(&self.settings.channels[stream], why, entries);
        }
        for (stream, messages) in sampled_out {
            events::sampled_out(&self.settings.channels[stream], messages);
        }
        events::stream_backlog(self.uncommitted());
    }

    /// The windows (`{period}/{window}`, end in ms) an hour counts in.
    fn windows_of(&self, hour: &Window) -> Vec<(String, i64)> {
        self.settings
            .periods
            .iter()
            .map(|spec| {
                let window = spec.period.window_at(hour.start);
                (
                    format!("{}/{}", spec.period.name(), window.name),
                    window.end.timestamp_millis(),
                )
            })
            .collect()
    }

    /// Take what was counted since the last commit out of the table, to encode away from
    /// this thread. `None` when nothing waits.
    fn take_delta(&mut self) -> Option<TakenDelta> {
        if self.acks.is_empty() {
            return None;
        }
        let mut snapshots = Vec::with_capacity(self.windows.len());
        for ((stream, _), (hour, mut counts)) in std::mem::take(&mut self.windows) {
            snapshots.push((stream, hour, counts.snapshot(&self.table)));
            counts.release_all(&mut self.table);
        }
        Some(TakenDelta {
            snapshots,
            acks: std::mem::take(&mut self.acks),
        })
    }

    /// Commit: first a commit that failed before, then what arrived since. Resolves to
    /// whether nothing read is left uncommitted.
    fn commit(&mut self) -> ResponseActFuture<Self, bool> {
        if self.committing {
            return Box::pin(fut::ready(false));
        }
        // From the snapshot on: encoding, the segment's write and the ledger's script.
        let started = Instant::now();
        let prepare: ResponseActFuture<Self, Option<Prepared>> = match self.retry.take() {
            Some(prepared) => {
                self.in_flight = prepared.entries as usize;
                Box::pin(fut::ready(Some(prepared)))
            }
            None => match self.take_delta() {
                None => return Box::pin(fut::ready(true)),
                Some(TakenDelta { snapshots, acks }) => {
                    self.in_flight = acks.values().map(Vec::len).sum();
                    self.sequence += 1;
                    let epoch = self.epoch;
                    let path =
                        segment::path(&self.settings.consumer, epoch, self.sequence, self.nonce);
                    let channels = self.settings.channels.clone();
                    let windows: Vec<Vec<(String, i64)>> = snapshots
                        .iter()
                        .map(|(_, hour, _)| self.windows_of(hour))
                        .collect();
                    let encode = async move {
                        tokio::task::spawn_blocking(move || {
                            build(path, epoch, &channels, snapshots, windows, acks)
                        })
                        .await
                        .ok()
                    };
                    Box::pin(encode.into_actor(self))
                }
            },
        };
        self.committing = true;
        Box::pin(
            prepare.then(move |prepared, act, _| -> ResponseActFuture<Self, bool> {
                let Some(prepared) = prepared else {
                    // The encoding thread died (a bug): the entries stay pending and are read
                    // again under a new epoch.
                    act.committing = false;
                    act.in_flight = 0;
                    act.fenced = true;
                    return Box::pin(fut::ready(false));
                };
                let storage = act.storage.clone();
                let ledger = act.ledger.clone();
                let consumer = act.settings.consumer.clone();
                let connection = act.connection.take();
                let url = act.settings.redis_url.clone();
                let run = async move {
                    let mut prepared = prepared;
                    let result = write_and_commit(
                        &*storage,
                        &ledger,
                        &consumer,
                        &url,
                        connection,
                        &mut prepared,
                    )
                    .await;
                    (prepared, result)
                };
                Box::pin(
                    run.into_actor(act)
                        .map(move |(prepared, result), act, ctx| {
                            act.committing = false;
                            act.in_flight = 0;
                            let succeeded = result.is_ok();
                            match result {
                                Ok(connection) => {
                                    act.connection = Some(connection);
                                    events::stream_committed(
                                        prepared.entries,
                                        prepared.plan.sections.len(),
                                        prepared.segment.len(),
                                        started.elapsed(),
                                    );
                                }
                                Err(CommitError::Fenced(error)) => {
                                    events::stream_commit_fenced(prepared.entries, &error);
                                    if prepared.epoch == act.epoch {
                                        act.fenced = true;
                                    }
                                }
                                Err(CommitError::Failed(error)) => {
                                    events::stream_commit_failed(prepared.entries, &error);
                                    if prepared.epoch == act.epoch {
                                        act.retry = Some(prepared);
                                    }
                                }
                            }
                            events::stream_backlog(act.uncommitted());
                            // A backlog keeps coming faster than one commit at a time: chain them
                            // (after a success only: a failing store is retried at the interval,
                            // not in a tight loop).
                            if succeeded && act.uncommitted() >= COMMIT_AT && !act.fenced {
                                ctx.spawn(act.commit().map(|_, _, _| ()));
                            }
                            act.retry.is_none() && act.acks.is_empty()
                        }),
                )
            }),
        )
    }
}

/// Encode the delta's sections into one segment and the ledger's plan for it.
fn build(
    path: String,
    epoch: u64,
    channels: &[String],
    snapshots: Vec<(usize, Window, Snapshot)>,
    windows: Vec<Vec<(String, i64)>>,
    acks: BTreeMap<usize, Vec<EntryId>>,
) -> Prepared {
    let mut builder = SegmentBuilder::new();
    let mut sections = Vec::with_capacity(snapshots.len());
    for ((stream, hour, snapshot), windows) in snapshots.into_iter().zip(windows) {
        let encoded = snapshot.encode_section(compress::TRANSIENT_LEVEL);
        if encoded.stacks == 0 {
            continue;
        }
        sections.push(CommitSection {
            channel: channels[stream].clone(),
            hour: hour.name,
            section: builder.push(&encoded),
            windows,
        });
    }
    let entries = acks.values().map(|ids| ids.len() as u64).sum();
    Prepared {
        epoch,
        segment: Bytes::from(builder.finish()),
        plan: CommitPlan {
            segment: path,
            sections,
            acks: acks
                .into_iter()
                .map(|(stream, ids)| (channels[stream].clone(), ids))
                .collect(),
        },
        entries,
        written_at: None,
    }
}

enum CommitError {
    Fenced(String),
    Failed(String),
}

/// Write the segment (unless written recently) and run the ledger's commit.
async fn write_and_commit(
    storage: &dyn Storage,
    ledger: &Ledger,
    consumer: &str,
    url: &str,
    connection: Option<MultiplexedConnection>,
    prepared: &mut Prepared,
) -> Result<MultiplexedConnection, CommitError> {
    let fresh = prepared
        .written_at
        .is_some_and(|at| at.elapsed() < REWRITE_AFTER);
    if !prepared.plan.sections.is_empty() && !fresh {
        storage
            .put(
                &prepared.plan.segment,
                prepared.segment.clone(),
                ContentMeta::TRACE_LOG,
            )
            .await
            .map_err(|e| CommitError::Failed(format!("writing the segment: {e}")))?;
        prepared.written_at = Some(Instant::now());
        super::failpoint("commit.after_put");
    }
    let mut connection = crate::store::redis_connection::kept_or_new(connection, url)
        .await
        .map_err(|e| CommitError::Failed(format!("connecting to Redis: {e}")))?;
    match ledger
        .commit(&mut connection, consumer, prepared.epoch, &prepared.plan)
        .await
    {
        Ok(_acked) => {
            super::failpoint("commit.after_ack");
            Ok(connection)
        }
        Err(LedgerError::Fenced(error)) => Err(CommitError::Fenced(error)),
        Err(error) => Err(CommitError::Failed(error.to_string())),
    }
}

impl Actor for Delta {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Commits run beside the counting (ctx.spawn), one at a time: the next batches are
        // parsed on this thread while the last delta is encoded and written on others.
        ctx.run_interval(self.settings.commit_interval, |act, ctx| {
            if !act.committing {
                ctx.spawn(act.commit().map(|_, _, _| ()));
            }
        });
    }
}

impl Handler<Entries> for Delta {
    type Result = MessageResult<Entries>;

    fn handle(&mut self, message: Entries, ctx: &mut Context<Self>) -> Self::Result {
        if message.epoch > self.epoch {
            self.handle(NewEpoch(message.epoch), ctx);
        }
        if message.epoch == self.epoch && !self.fenced {
            self.count(message.how, message.entries);
            // Early, for a backlog; but a failed commit waits for the interval to retry.
            if self.uncommitted() >= COMMIT_AT && !self.committing && self.retry.is_none() {
                ctx.spawn(self.commit().map(|_, _, _| ()));
            }
        }
        MessageResult(self.state())
    }
}

impl Handler<NewEpoch> for Delta {
    type Result = ();

    fn handle(&mut self, NewEpoch(epoch): NewEpoch, _: &mut Context<Self>) {
        if epoch <= self.epoch {
            return;
        }
        let dropped = self.drop_delta();
        self.epoch = epoch;
        self.fenced = false;
        events::stream_epoch_started(&self.settings.consumer, epoch, dropped);
        events::stream_backlog(0);
    }
}

impl Handler<CommitNow> for Delta {
    type Result = ResponseActFuture<Self, bool>;

    fn handle(&mut self, _: CommitNow, _: &mut Context<Self>) -> Self::Result {
        // A failed commit is retried first; then what arrived since.
        Box::pin(
            self.commit()
                .then(|done, act, _| -> ResponseActFuture<Self, bool> {
                    if done || act.fenced {
                        Box::pin(fut::ready(done))
                    } else {
                        act.commit()
                    }
                }),
        )
    }
}
