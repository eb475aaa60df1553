//! The aggregator actor: one per (period, window, channel, entry point).
//!
//! It counts `StackId -> count` for its window ([`crate::store::aggregate::WindowCounts`]),
//! loads the window's existing checkpoint when it starts (so counts carry over restarts),
//! checkpoints every `flush_interval`, asks for renders at most every `render.interval`,
//! and at window end writes a final checkpoint, asks for a final render and stops.
//!
//! The checkpoint is loaded as a stream (a day's is gigabytes of text): a blocking thread
//! reads and decodes it, and the aggregator merges it a chunk of lines at a time, so the
//! ingest thread it shares with the router and the other aggregators is never held for
//! long, and only a few chunks of the text exist at once. A load interrupted by a storage
//! error resumes after the text already merged.
//!
//! Checkpoint writes run with `ctx.wait`, so at most one write per window is in flight and
//! an older snapshot can never land after a newer one; samples arriving meanwhile wait in
//! the mailbox. A failed write keeps the samples in memory and is retried.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use crate::actors::render_queue::{RenderQueue, RenderRequest, UseRenderQueue};
use crate::ingest::stacks::{StackId, StackTable};
use crate::ops::events;
use crate::store::aggregate::{Snapshot, WindowCounts};
use crate::store::catalogue::LogSummary;
use crate::store::folded;
use crate::store::layout::{LogKey, ALL};
use crate::store::seal;
use crate::store::storage::{self, ContentMeta, Storage, StorageError};

/// Timing settings an aggregator follows; changed live on reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregatorSettings {
    /// Checkpoint period.
    pub flush_interval: Duration,
    /// Minimum time between render requests while the window is live.
    pub render_interval: Duration,
}

/// Samples for this window: stack ids (one reference each, handed over) and counts.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AddSamples(pub Vec<(StackId, u32)>);

/// Checkpoint now (shutdown). Answers how many samples are not yet durable.
#[derive(Message)]
#[rtype(result = "FlushOutcome")]
pub struct Flush;

/// What a flush achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushOutcome {
    /// Everything counted is in storage.
    Saved,
    /// The write failed; this many samples exist only in memory.
    Unsaved(u64),
}

/// The window has ended: final checkpoint, final render, stop.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Close;

/// New timing settings.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retune(pub AggregatorSettings);

/// Sent to the router when a closed window is safely written and the actor stops.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WindowClosed(pub LogKey);

/// The aggregator actor.
pub struct Aggregator {
    key: LogKey,
    table: Rc<RefCell<StackTable>>,
    storage: Arc<dyn Storage>,
    renders: Addr<RenderQueue>,
    on_closed: Recipient<WindowClosed>,
    settings: AggregatorSettings,
    counts: WindowCounts,
    /// The existing checkpoint has been merged (or there was none). Until then, nothing is
    /// written, so a checkpoint that could not be read is never overwritten.
    loaded: bool,
    /// How much of the existing checkpoint has been merged so far.
    load_progress: LoadProgress,
    /// Samples counted since the last successful write.
    unsaved: u64,
    /// A successful write happened since the last render request.
    render_stale: bool,
    last_render_request: Option<Instant>,
    closing: bool,
    retry_delay: Duration,
    flush_timer: Option<SpawnHandle>,
    tick_in_flight: bool,
    /// When the last successful checkpoint ended and how long it took.
    last_checkpoint: Option<(Instant, Duration)>,
}

/// Decoded text merged at a time while loading a checkpoint.
const LOAD_CHUNK: usize = 1 << 20;
/// Chunks decoded ahead of the merge.
const LOAD_AHEAD: usize = 2;

/// What loading the existing checkpoint has merged so far.
#[derive(Debug, Default, Clone, Copy)]
struct LoadProgress {
    /// Bytes of its text: a resumed load skips them.
    text_bytes: u64,
    samples: u64,
    malformed_lines: u64,
}

/// What the loading task hands the aggregator: chunks of text, then how it ended.
enum Loading {
    Chunk(Vec<u8>),
    Done,
    /// There is no checkpoint.
    Missing,
    /// Storage failed: retry later.
    Failed(String),
    /// The checkpoint does not decode (it has been copied to `{path}.corrupt`).
    Damaged(String),
}

/// Read and decode the checkpoint at `path` after its first `skip` bytes of text, on a
/// blocking thread, sending its text in chunks of lines and then how the read ended.
async fn read_checkpoint(
    storage: Arc<dyn Storage>,
    path: String,
    skip: u64,
    sender: tokio::sync::mpsc::Sender<Loading>,
) {
    let end = match storage.get_stream(&path).await {
        Ok(None) => Loading::Missing,
        Err(e) => Loading::Failed(e.to_string()),
        Ok(Some(log)) => {
            let chunks = sender.clone();
            let read = storage::read_blocking(&path, log.pieces, move |reader| {
                folded::decode_chunks(reader, LOAD_CHUNK, skip, |text| {
                    chunks.blocking_send(Loading::Chunk(text)).is_ok()
                })
            })
            .await;
            match read {
                Ok(Ok(())) => Loading::Done,
                Err(e) => Loading::Failed(e.to_string()),
                // Storage errors reach the decoder as I/O errors wrapping them.
                Ok(Err(e)) if e.get_ref().is_some_and(|inner| inner.is::<StorageError>()) => {
                    Loading::Failed(e.to_string())
                }
                Ok(Err(e)) => {
                    quarantine(storage.as_ref(), &path).await;
                    Loading::Damaged(format!("{e}; kept as {path}.corrupt"))
                }
            }
        }
    };
    let _ = sender.send(end).await;
}

/// Keep a copy of a checkpoint that does not decode beside it, before the next write
/// replaces it, so nothing is silently destroyed.
async fn quarantine(storage: &dyn Storage, path: &str) {
    let copy = format!("{path}.corrupt");
    let copied = match storage.get(path).await {
        Ok(Some(bytes)) => storage.put(&copy, bytes, ContentMeta::TRACE_LOG).await,
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = copied {
        events::checkpoint_failed(&copy, &e.to_string());
    }
}

/// A periodic checkpoint waits at least this many times as long as the previous one took.
/// A window of millions of distinct stacks takes tens of seconds to sort and compress (see
/// BENCHMARKS.md, "Checkpoint of a large window"); with a 60 s `flush_interval` it would
/// spend most of a core rewriting itself. Paced, it spends at most a fifth. Checkpoints at
/// shutdown and at window end are never delayed.
const CHECKPOINT_PACE: u32 = 4;

/// Whether a periodic checkpoint may run `now`, given when the last one ended and how long
/// it took.
fn periodic_checkpoint_due(last: Option<(Instant, Duration)>, now: Instant) -> bool {
    last.is_none_or(|(ended, took)| now.saturating_duration_since(ended) >= took * CHECKPOINT_PACE)
}

impl Aggregator {
    /// A new aggregator for `key`; it loads the existing checkpoint when started.
    pub fn new(
        key: LogKey,
        table: Rc<RefCell<StackTable>>,
        storage: Arc<dyn Storage>,
        renders: Addr<RenderQueue>,
        on_closed: Recipient<WindowClosed>,
        settings: AggregatorSettings,
    ) -> Self {
        Aggregator {
            key,
            table,
            storage,
            renders,
            on_closed,
            settings,
            counts: WindowCounts::new(),
            loaded: false,
            unsaved: 0,
            render_stale: false,
            last_render_request: None,
            closing: false,
            retry_delay: Duration::from_millis(200),
            flush_timer: None,
            tick_in_flight: false,
            last_checkpoint: None,
            load_progress: LoadProgress::default(),
        }
    }

    /// Load (or go on loading) the existing checkpoint, merging it into the counts chunk by
    /// chunk. Resolves to whether it is now fully merged (or there was none).
    fn load(&mut self) -> impl ActorFuture<Self, Output = bool> + 'static {
        let (sender, receiver) = tokio::sync::mpsc::channel(LOAD_AHEAD);
        actix::spawn(read_checkpoint(
            self.storage.clone(),
            self.key.log_path(),
            self.load_progress.text_bytes,
            sender,
        ));
        actix::fut::wrap_stream::<_, Self>(storage::received(receiver))
            .fold(None, |end, item, act, _| {
                let end = match item {
                    Loading::Chunk(text) => {
                        act.merge_loaded(&text);
                        end
                    }
                    other => Some(other),
                };
                fut::ready(end)
            })
            .map(|end, act, _| act.finish_load(end))
    }

    fn merge_loaded(&mut self, text: &[u8]) {
        let before = self.counts.total();
        let malformed = self.counts.merge_folded(&mut self.table.borrow_mut(), text);
        let progress = &mut self.load_progress;
        progress.text_bytes += text.len() as u64;
        progress.samples += self.counts.total() - before;
        progress.malformed_lines += malformed;
    }

    fn finish_load(&mut self, end: Option<Loading>) -> bool {
        let path = self.key.log_path();
        match end {
            Some(Loading::Done) => {
                let progress = &self.load_progress;
                events::checkpoint_loaded(&path, progress.samples, progress.malformed_lines);
                self.loaded = true;
            }
            Some(Loading::Missing) => self.loaded = true,
            // Kept as `{path}.corrupt` before this: the next write replaces it with the
            // counts in memory (what was read of it before the damage included).
            Some(Loading::Damaged(error)) => {
                events::checkpoint_load_failed(&path, &error);
                self.loaded = true;
            }
            // Retried before the next write, from where it stopped.
            Some(Loading::Failed(error)) => events::checkpoint_load_failed(&path, &error),
            Some(Loading::Chunk(_)) | None => {
                events::checkpoint_load_failed(&path, "the loading task ended without a result");
            }
        }
        self.loaded
    }

    /// Write the window if anything changed. Resolves to true when storage holds every
    /// sample counted so far.
    fn checkpoint(&mut self) -> ResponseActFuture<Self, bool> {
        if !self.loaded {
            return Box::pin(
                self.load()
                    .then(|loaded, act, _| -> ResponseActFuture<Self, bool> {
                        if loaded {
                            act.checkpoint()
                        } else {
                            Box::pin(fut::ready(false))
                        }
                    }),
            );
        }
        if self.unsaved == 0 {
            return Box::pin(fut::ready(true));
        }
        let started = Instant::now();
        let written_samples = self.unsaved;
        let storage = self.storage.clone();
        let key = self.key.clone();
        /// What a checkpoint writes.
        enum Checkpoint {
            /// `all`: the window's log, from a copy of its frame ids.
            Log(Snapshot),
            /// An entry point, whose samples are stored in `all`'s log: its summary only.
            Summary(LogSummary),
        }
        // Only the copy of the window's frame ids out of the shared table runs here, on the
        // ingest thread (the table is not Send); sorting and encoding run on a blocking-pool
        // thread so big windows do not hold up the others.
        let checkpoint = if key.entry == ALL {
            Checkpoint::Log(self.counts.snapshot(&self.table.borrow()))
        } else {
            Checkpoint::Summary(LogSummary {
                samples: self.counts.total(),
                stacks: self.counts.distinct() as u64,
            })
        };
        let write = async move {
            let snapshot = match checkpoint {
                Checkpoint::Log(snapshot) => snapshot,
                Checkpoint::Summary(summary) => {
                    seal::write_entry_summary(&*storage, &key, &summary)
                        .await
                        .map_err(|e| e.to_string())?;
                    return Ok((summary.stacks as usize, summary.samples, 0));
                }
            };
            let encoded = tokio::task::spawn_blocking(move || snapshot.encode())
                .await
                .map_err(|e| format!("encoding thread failed: {e}"))?;
            let summary = (encoded.stacks, encoded.samples, encoded.bytes.len());
            seal::write_log(&*storage, &key, encoded)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(summary)
        };
        Box::pin(write.into_actor(self).map(move |result, act, _| {
            let path = act.key.log_path();
            match result {
                Ok((stacks, samples, bytes)) => {
                    let took = started.elapsed();
                    events::checkpoint_written(&act.key.event(&path), stacks, samples, bytes, took);
                    act.last_checkpoint = Some((Instant::now(), took));
                    // Samples that arrived during the write are still unsaved.
                    act.unsaved -= written_samples.min(act.unsaved);
                    act.render_stale = true;
                    true
                }
                Err(e) => {
                    events::checkpoint_failed(&path, &e);
                    false
                }
            }
        }))
    }

    fn request_render_if_due(&mut self, final_render: bool) {
        if !self.render_stale {
            return;
        }
        let due = self
            .last_render_request
            .is_none_or(|at| at.elapsed() >= self.settings.render_interval);
        if due || final_render {
            self.renders.do_send(RenderRequest {
                key: self.key.clone(),
            });
            self.last_render_request = Some(Instant::now());
            self.render_stale = false;
        }
    }

    fn start_flush_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(previous) = self.flush_timer.take() {
            ctx.cancel_future(previous);
        }
        let timer = ctx.run_interval(self.settings.flush_interval, |act, ctx| {
            // Ticks missed during a long write fire in a burst afterwards: one checkpoint
            // covers them all.
            if act.closing
                || act.tick_in_flight
                || !periodic_checkpoint_due(act.last_checkpoint, Instant::now())
            {
                return;
            }
            act.tick_in_flight = true;
            let tick = act.checkpoint().map(|_, act, _| {
                act.tick_in_flight = false;
                act.request_render_if_due(false);
            });
            ctx.wait(tick);
        });
        self.flush_timer = Some(timer);
    }

    fn close_attempt(&mut self, ctx: &mut Context<Self>) {
        let attempt = self
            .checkpoint()
            .map(|saved, act, ctx: &mut Context<Self>| {
                if saved {
                    act.request_render_if_due(true);
                    act.on_closed.do_send(WindowClosed(act.key.clone()));
                    ctx.stop();
                } else {
                    // Storage is failing: keep the samples and try again, backing off.
                    let delay = act.retry_delay;
                    act.retry_delay = (act.retry_delay * 2).min(Duration::from_secs(30));
                    ctx.run_later(delay, |act, ctx| act.close_attempt(ctx));
                }
            });
        ctx.wait(attempt);
    }
}

impl Actor for Aggregator {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.wait(self.load().map(|_, _, _| ()));
        self.start_flush_timer(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.counts.release_all(&mut self.table.borrow_mut());
    }
}

impl Handler<AddSamples> for Aggregator {
    type Result = ();

    fn handle(&mut self, AddSamples(samples): AddSamples, _: &mut Context<Self>) {
        let mut table = self.table.borrow_mut();
        for (id, count) in samples {
            self.counts.add(&mut table, id, u64::from(count));
            self.unsaved += u64::from(count);
        }
    }
}

impl Handler<Flush> for Aggregator {
    type Result = AtomicResponse<Self, FlushOutcome>;

    fn handle(&mut self, _: Flush, _: &mut Context<Self>) -> Self::Result {
        AtomicResponse::new(Box::pin(self.checkpoint().map(|saved, act, _| {
            if saved {
                FlushOutcome::Saved
            } else {
                FlushOutcome::Unsaved(act.unsaved)
            }
        })))
    }
}

impl Handler<Close> for Aggregator {
    type Result = ();

    fn handle(&mut self, _: Close, ctx: &mut Context<Self>) {
        if !self.closing {
            self.closing = true;
            self.close_attempt(ctx);
        }
    }
}

impl Handler<Retune> for Aggregator {
    type Result = ();

    fn handle(&mut self, Retune(settings): Retune, ctx: &mut Context<Self>) {
        let retime = settings.flush_interval != self.settings.flush_interval;
        self.settings = settings;
        if retime {
            self.start_flush_timer(ctx);
        }
    }
}

impl Handler<UseRenderQueue> for Aggregator {
    type Result = ();

    fn handle(&mut self, UseRenderQueue(queue): UseRenderQueue, _: &mut Context<Self>) {
        self.renders = queue;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_checkpoint_spaces_out_the_next_periodic_one() {
        let now = Instant::now();
        assert!(periodic_checkpoint_due(None, now), "the first one is due");
        let ended = now;
        let quick = Some((ended, Duration::from_millis(20)));
        assert!(periodic_checkpoint_due(
            quick,
            ended + Duration::from_millis(80)
        ));
        let slow = Some((ended, Duration::from_secs(45)));
        assert!(!periodic_checkpoint_due(
            slow,
            ended + Duration::from_secs(60)
        ));
        assert!(!periodic_checkpoint_due(
            slow,
            ended + Duration::from_secs(179)
        ));
        assert!(periodic_checkpoint_due(
            slow,
            ended + Duration::from_secs(180)
        ));
    }
}
