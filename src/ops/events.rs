//! Operational events: each one is a single function that both logs and counts, so a log
//! line and its Prometheus series can never disagree (the pattern of vector's
//! `internal_events`). Every metric is named `arclamp_*`.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use metrics::{counter, gauge, histogram};

use crate::ops::status::GroupView;

/// Why a line (or, for [`Rejection::TooLarge`], a whole message) was not aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// No decimal count after the last space.
    NoCount,
    /// A count of 0 or above 2^32-1.
    BadCount,
    /// More frames than `aggregation.max_depth`.
    TooDeep,
    /// The message is larger than `aggregation.max_message_bytes` (counted once per message).
    TooLarge,
    /// A count with nothing before it.
    EmptyStack,
}

impl Rejection {
    /// Every reason, for metrics that should show zeros rather than be absent.
    pub const ALL: [Rejection; 5] = [
        Rejection::NoCount,
        Rejection::BadCount,
        Rejection::TooDeep,
        Rejection::TooLarge,
        Rejection::EmptyStack,
    ];

    /// The label used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::NoCount => "no_count",
            Rejection::BadCount => "bad_count",
            Rejection::TooDeep => "too_deep",
            Rejection::TooLarge => "too_large",
            Rejection::EmptyStack => "empty_stack",
        }
    }
}

/// What is stored for one period: bytes and files of logs and graphs, and the start of its
/// oldest and newest window that has a log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of trace logs.
    pub log_bytes: u64,
    /// Bytes of graphs.
    pub graph_bytes: u64,
    /// Trace logs.
    pub logs: u64,
    /// Graphs.
    pub graphs: u64,
    /// Start of the oldest window with a log.
    pub oldest: Option<DateTime<Utc>>,
    /// Start of the newest window with a log.
    pub newest: Option<DateTime<Utc>>,
}

/// Seconds since the Unix epoch, as Prometheus timestamps (and `/status`) give them.
pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The window log an event is about, as its log lines and metric labels name it.
#[derive(Debug, Clone, Copy)]
pub struct WindowLog<'a> {
    /// The log's path in storage.
    pub path: &'a str,
    /// Its period (`hourly`, `daily`, ...).
    pub period: &'a str,
    /// Its channel.
    pub channel: &'a str,
    /// Whether it is the entry point `all` (every sample of the channel).
    pub is_all: bool,
}

/// Messages read from Redis on `channel`, and the samples (sum of counts) they carried
/// that were accepted.
pub fn received(channel: &str, messages: u64, samples: u64) {
    counter!("arclamp_messages_received_total", "channel" => channel.to_owned())
        .increment(messages);
    counter!("arclamp_samples_received_total", "channel" => channel.to_owned()).increment(samples);
}

/// Lines (or, for `too_large`, whole messages) rejected on `channel`.
pub fn rejected(channel: &str, reason: Rejection, count: u64) {
    tracing::debug!(channel, reason = reason.as_str(), count, "sample rejected");
    counter!("arclamp_samples_rejected_total", "channel" => channel.to_owned(), "reason" => reason.as_str())
        .increment(count);
}

/// Messages skipped by `sample_every`.
pub fn sampled_out(channel: &str, messages: u64) {
    counter!("arclamp_messages_sampled_out_total", "channel" => channel.to_owned())
        .increment(messages);
}

/// A new entry point beyond `max_entry_points`: its samples count in `all` only.
pub fn entry_overflow(channel: &str, entry: &str, samples: u64, first_time: bool) {
    if first_time {
        tracing::warn!(channel, entry, "too many distinct entry points (aggregation.max_entry_points): this one counts in \"all\" only");
    }
    counter!("arclamp_entry_overflow_total", "channel" => channel.to_owned()).increment(samples);
}

/// Parsing a batch panicked (a bug): the batch is lost, the router and its windows live on.
pub fn batch_dropped(messages: usize) {
    tracing::error!(messages, "a batch of messages crashed the router (a bug: please report it with the log above); the batch was dropped");
    counter!("arclamp_batches_dropped_total").increment(messages as u64);
}

/// Samples aggregated into a window of `period` for `entry`.
pub fn aggregated(period: &str, entry: &str, samples: u64) {
    counter!("arclamp_samples_aggregated_total", "period" => period.to_owned(), "entry" => entry.to_owned())
        .increment(samples);
}

/// Pub/sub mode: a standby's buffer (messages held for a takeover), and how many of them
/// it let expire (the writer counted them).
pub fn standby_state(buffered: usize, expired: u64) {
    gauge!("arclamp_pubsub_standby_buffered_messages").set(buffered as f64);
    if expired > 0 {
        counter!("arclamp_pubsub_standby_expired_messages_total").increment(expired);
    }
}

/// Pub/sub mode: this instance became the writer (took the lease), or is a standby.
pub fn pubsub_writer(writer: bool, handover: Option<&str>, bridge_tails: bool) {
    if writer {
        match handover {
            Some(nonce) => tracing::info!(
                nonce,
                "took the writer lease from an instance that handed over: counting from its marker on"
            ),
            None if bridge_tails => tracing::info!(
                "took the writer lease (no instance handed over): forwarding what follows the last messages appended"
            ),
            None => tracing::info!(
                "took the writer lease (no instance handed over): counting what was received"
            ),
        }
        let handover = if handover.is_some() { "yes" } else { "no" };
        counter!("arclamp_pubsub_takeovers_total", "handover" => handover).increment(1);
    }
    gauge!("arclamp_pubsub_writer").set(if writer { 1.0 } else { 0.0 });
}

/// Pub/sub mode: another instance holds the writer lease this one held (this one could
/// not renew it in time): this one must not write again.
pub fn writer_lease_lost() {
    tracing::error!(
        "the pub/sub writer lease was taken by another instance (this one could not renew it in \
         time): exiting without writing, so the two never overwrite each other's windows"
    );
    counter!("arclamp_pubsub_writer_lease_lost_total").increment(1);
}

/// Pub/sub mode, shutdown: how the handover to a standby went.
pub fn handed_over(marked: bool) {
    if marked {
        tracing::info!("every channel counted up to this instance's handover marker");
    } else {
        tracing::warn!(
            "the handover marker did not come back on every channel in time: the next writer \
             counts what it buffered (a few samples may count twice)"
        );
    }
}

/// Bridge mode: messages appended to their channels' streams.
pub fn bridged(messages: &[(std::sync::Arc<str>, Vec<u8>)]) {
    let mut run_start = 0;
    for i in 1..=messages.len() {
        if i == messages.len() || messages[i].0 != messages[run_start].0 {
            counter!("arclamp_bridge_appended_total", "channel" => messages[run_start].0.to_string())
                .increment((i - run_start) as u64);
            run_start = i;
        }
    }
}

/// Bridge mode: messages waiting to be appended.
pub fn bridge_pending(messages: usize) {
    gauge!("arclamp_bridge_pending_messages").set(messages as f64);
}

/// Bridge mode: an append failed (Redis unavailable); the messages stay and are retried.
/// Logged at `warn` for the first failure of a run of them, at `debug` after.
pub fn bridge_append_failed(error: &str, pending: usize, first: bool, retry_in: Duration) {
    bridge_pending(pending);
    counter!("arclamp_bridge_append_failures_total").increment(1);
    if first {
        tracing::warn!(
            error,
            pending,
            "could not append pub/sub messages to their streams: keeping them and retrying"
        );
    } else {
        tracing::debug!(
            error,
            pending,
            retry_in_ms = retry_in.as_millis() as u64,
            "append still failing"
        );
    }
}

/// Bridge mode: messages dropped because `held` were already waiting for appends that keep
/// failing (Redis up but refusing writes): a real loss, counted.
pub fn bridge_dropped(messages: usize, held: usize) {
    tracing::error!(
        messages,
        held,
        "appends keep failing and the bridge holds all it may: dropping messages (is Redis out of memory?)"
    );
    counter!("arclamp_bridge_dropped_messages_total").increment(messages as u64);
}

/// Bridge mode: appends work again after failures.
pub fn bridge_recovered() {
    tracing::info!("appending pub/sub messages to their streams again");
}

/// Bridge mode: an append was refused because another instance holds the writer lease
/// now; that one forwards everything after this one's last append.
pub fn bridge_fenced(messages: usize) {
    tracing::warn!(
        messages,
        "another instance holds the writer lease: dropped messages it forwards itself"
    );
    counter!("arclamp_bridge_fenced_messages_total").increment(messages as u64);
}

/// Bridge mode: the writer's subscription ended; it holds what it receives until the
/// writer lease says whether another instance has been subscribed longer.
pub fn bridge_suspended() {
    tracing::info!(
        "the subscription ended while writing: holding what arrives until it is known whether another instance received what this one did not"
    );
    counter!("arclamp_bridge_suspensions_total").increment(1);
}

/// Bridge mode: no instance has been subscribed longer: the writer goes on, forwarding the
/// `held` messages received while suspended.
pub fn bridge_resumed(held: usize) {
    tracing::info!(
        held,
        "still the instance subscribed the longest: writing again"
    );
}

/// Bridge mode: another instance has been subscribed longer (it received what this one
/// missed while resubscribing): this one let the writer lease go to it. `flushed`: every
/// message let through before was appended.
pub fn bridge_stepped_down(flushed: bool) {
    if flushed {
        tracing::info!(
            "another instance has been subscribed longer: handed the writer lease to it (it forwards what follows this one's last appends)"
        );
    } else {
        tracing::warn!(
            "another instance has been subscribed longer: let the writer lease go before every message was appended (the next writer forwards them from its own buffer)"
        );
    }
    counter!("arclamp_bridge_step_downs_total").increment(1);
}

/// Bridge mode: another instance took the writer lease while this one could not renew it
/// (Redis or this process stalled for longer than the lease). Bridging, nothing is counted
/// here, so this instance stands by again instead of exiting; counted as a step-down.
pub fn bridge_lease_taken() {
    tracing::warn!(
        "the writer lease was taken by another instance (this one could not renew it in time): \
         standing by again; the new writer forwards what follows this one's last appends"
    );
    counter!("arclamp_bridge_step_downs_total").increment(1);
}

/// Pub/sub or bridge mode, taking over: how each channel's buffer was cut: `marker` (the
/// old writer handed over), `tail` (bridge mode found where the old writer's appends
/// ended) or `all` (nothing to go by: everything buffered was counted).
pub fn takeover_cut(channel: &str, how: &'static str, skipped: usize) {
    tracing::info!(
        channel,
        how,
        skipped,
        "took over a channel: dropped the buffered messages the old writer had counted"
    );
    counter!("arclamp_pubsub_takeover_channels_total", "channel" => channel.to_owned(), "cut" => how)
        .increment(1);
}

/// Bridge mode, shutdown: whether every message received was appended before the writer
/// lease was let go. Those that were not are forwarded by the next writer (it finds where
/// this one's appends ended), or lost when no instance was subscribed beside this one.
pub fn shutdown_bridge_flushed(flushed: bool) {
    if flushed {
        tracing::info!("every message received was appended to its stream");
    } else {
        tracing::warn!(
            "shutting down with pub/sub messages not appended to their streams (Redis did not \
             answer in time): an instance standing by forwards them"
        );
    }
}

/// Stream mode: entries read from `channel` (new, re-read after a restart, or claimed).
pub fn stream_entries_read(channel: &str, how: &'static str, entries: u64) {
    counter!("arclamp_stream_entries_read_total", "channel" => channel.to_owned(), "how" => how)
        .increment(entries);
}

/// Stream mode: entries of `channel` lost before they were counted: `pending` ones trimmed
/// from the stream while a consumer held them, `unread` ones trimmed before any consumer read
/// them, `no_data` ones without a `data` field (a producer's mistake).
pub fn stream_entries_lost(channel: &str, why: &'static str, entries: u64) {
    if entries == 0 {
        return;
    }
    tracing::warn!(
        channel,
        why,
        entries,
        "stream entries lost before they were counted (trimmed: raise the producers' MAXLEN \
         or Redis maxmemory, see the README; no_data: fix the producer)"
    );
    counter!("arclamp_stream_entries_lost_total", "channel" => channel.to_owned(), "why" => why)
        .increment(entries);
}

/// Stream mode: this consumer took a new epoch (at start, or after being fenced or losing
/// Redis); what it held uncommitted is read again from its pending entries.
pub fn stream_epoch_started(consumer: &str, epoch: u64, dropped_entries: usize) {
    tracing::info!(
        consumer,
        epoch,
        dropped_entries,
        "consuming under a new epoch (uncommitted entries are read again)"
    );
    gauge!("arclamp_stream_epoch").set(epoch as f64);
}

/// Stream mode: a delta was committed: its segment written and its entries acknowledged.
pub fn stream_committed(entries: u64, sections: usize, bytes: usize, took: Duration) {
    tracing::debug!(
        entries,
        sections,
        bytes,
        took_ms = took.as_millis() as u64,
        "delta committed"
    );
    counter!("arclamp_stream_commits_total", "result" => "ok").increment(1);
    counter!("arclamp_stream_entries_acked_total").increment(entries);
    counter!("arclamp_stream_commit_bytes_total").increment(bytes as u64);
    histogram!("arclamp_stream_commit_duration_seconds").record(took.as_secs_f64());
    gauge!("arclamp_last_commit_timestamp_seconds").set(unix_seconds(SystemTime::now()));
}

/// Stream mode: a commit was refused because another replica claimed this one's entries
/// (it was paused or cut off too long): the delta is dropped, the claimer counts them.
pub fn stream_commit_fenced(entries: u64, error: &str) {
    tracing::warn!(
        entries,
        error,
        "commit refused: this replica was fenced; its uncommitted entries are counted by the \
         replica that claimed them"
    );
    counter!("arclamp_stream_commits_total", "result" => "fenced").increment(1);
}

/// Stream mode: a commit failed (store or Redis); its entries stay pending and it is retried.
pub fn stream_commit_failed(entries: u64, error: &str) {
    tracing::warn!(
        entries,
        error,
        "commit failed: retrying (nothing is acknowledged until it succeeds)"
    );
    counter!("arclamp_stream_commits_total", "result" => "failed").increment(1);
}

/// Stream mode: entries another consumer had left pending were taken over.
pub fn stream_entries_claimed(channel: &str, entries: u64) {
    tracing::info!(
        channel,
        entries,
        "claimed entries another consumer left pending"
    );
    counter!("arclamp_stream_claimed_entries_total", "channel" => channel.to_owned())
        .increment(entries);
}

/// Stream mode: entries read and not yet committed, and entries pending in the group.
pub fn stream_backlog(uncommitted: usize) {
    gauge!("arclamp_stream_uncommitted_entries").set(uncommitted as f64);
}

/// Stream mode: how the whole consumer group stands on `channel` (every replica reports it).
pub fn stream_group(channel: &str, view: &GroupView) {
    let gauge_of = |name: &'static str| gauge!(name, "channel" => channel.to_owned());
    gauge_of("arclamp_stream_length_entries").set(view.length as f64);
    // Redis cannot always tell the lag (entries deleted mid-stream): NaN says "unknown".
    gauge_of("arclamp_stream_lag_entries").set(view.lag.map_or(f64::NAN, |n| n as f64));
    gauge_of("arclamp_stream_pending_entries").set(view.pending as f64);
    gauge_of("arclamp_stream_consumers").set(view.consumers as f64);
    gauge_of("arclamp_stream_active_consumers").set(view.active_consumers as f64);
    gauge_of("arclamp_stream_open_windows").set(view.open_windows as f64);
    gauge_of("arclamp_stream_oldest_open_window_end_timestamp_seconds").set(
        view.oldest_open_end_ms
            .map_or(f64::NAN, |ms| ms as f64 / 1000.0),
    );
}

/// Stream mode: consumers long gone (holding nothing) were removed from the group.
pub fn stream_consumers_forgotten(channel: &str, consumers: u64) {
    if consumers > 0 {
        tracing::info!(
            channel,
            consumers,
            "idle consumers holding no entries left the group"
        );
    }
    counter!("arclamp_stream_consumers_forgotten_total", "channel" => channel.to_owned())
        .increment(consumers);
}

/// Stream mode: whether this replica holds the housekeeping lease (seals, trims, GC).
pub fn stream_lease_held(held: bool) {
    gauge!("arclamp_stream_lease_held").set(if held { 1.0 } else { 0.0 });
}

/// Stream mode: a window's committed deltas were merged into its final logs.
pub fn window_sealed(channel: &str, window: &str, logs: usize, samples: u64, took: Duration) {
    tracing::info!(
        channel,
        window,
        logs,
        samples,
        took_ms = took.as_millis() as u64,
        "window sealed"
    );
    counter!("arclamp_stream_seals_total", "result" => "ok").increment(1);
    histogram!("arclamp_stream_seal_duration_seconds").record(took.as_secs_f64());
}

/// Stream mode: sealing a window failed; it stays open and is sealed on a later pass.
pub fn window_seal_failed(channel: &str, window: &str, error: &str) {
    tracing::warn!(
        channel,
        window,
        error,
        "sealing a window failed: retrying later"
    );
    counter!("arclamp_stream_seals_total", "result" => "failed").increment(1);
}

/// Stream mode: housekeeping (watermark, trim, garbage collection) failed this pass.
pub fn housekeeping_failed(error: &str) {
    tracing::warn!(error, "stream housekeeping failed: retrying");
    counter!("arclamp_stream_housekeeping_failures_total").increment(1);
}

/// Stream mode: segments no index refers to any more were deleted.
pub fn segments_collected(deleted: usize) {
    if deleted > 0 {
        tracing::debug!(deleted, "unreferenced segments deleted");
    }
    counter!("arclamp_stream_segments_deleted_total").increment(deleted as u64);
}

/// A reload changed the subscribed channels.
pub fn subscriptions_changed(added: &[&String], removed: &[&String]) {
    tracing::info!(?added, ?removed, "subscriptions changed");
    counter!("arclamp_subscription_changes_total").increment(1);
}

/// Subscribed to Redis.
pub fn redis_connected(url: &str, channels: &[String], after_outage: Option<Duration>) {
    match after_outage {
        Some(outage) => {
            tracing::info!(
                url,
                ?channels,
                outage_seconds = outage.as_secs_f64(),
                "Redis is back: resubscribed"
            );
            counter!("arclamp_redis_reconnects_total").increment(1);
        }
        None => tracing::info!(url, ?channels, "subscribed to Redis"),
    }
    gauge!("arclamp_redis_connected").set(1.0);
}

/// The Redis connection failed or could not be made. Logged once per outage (at `warn`),
/// later attempts at `debug`, so an outage does not flood the log.
pub fn redis_unavailable(url: &str, error: &str, first_of_outage: bool, retry_in: Duration) {
    if first_of_outage {
        tracing::warn!(
            url,
            error,
            "Redis unavailable: retrying with backoff until it is back"
        );
    } else {
        tracing::debug!(
            url,
            error,
            retry_in_ms = retry_in.as_millis() as u64,
            "Redis still unavailable"
        );
    }
    gauge!("arclamp_redis_connected").set(0.0);
}

/// An actor was restarted by its supervisor.
pub fn actor_restarted(kind: &'static str, reason: &str) {
    tracing::debug!(actor = kind, reason, "actor restarted");
    counter!("arclamp_actor_restarts_total", "actor" => kind).increment(1);
}

/// An actor died unexpectedly (a panic) and was started again.
pub fn actor_died(kind: &'static str) {
    tracing::error!(
        actor = kind,
        "actor died unexpectedly (a bug: please report the log above); started a new one"
    );
    counter!("arclamp_actor_restarts_total", "actor" => kind).increment(1);
}

/// The watchdog found a dead actor but could not start a new one (its config was refused).
/// What that actor did stays undone until a reload or restart fixes it.
pub fn actor_restart_failed(error: &str) {
    tracing::error!(
        error,
        "cannot restart a failed actor: fix the config and reload (SIGHUP) or restart arclamp"
    );
    counter!("arclamp_actor_restart_failures_total").increment(1);
}

/// A window was checkpointed. For entry point `all`, `stacks` is every distinct stack of
/// the window on that channel, exported as `arclamp_distinct_stacks{period,channel}`.
pub fn checkpoint_written(
    log: &WindowLog<'_>,
    stacks: usize,
    samples: u64,
    bytes: usize,
    took: Duration,
) {
    let path = log.path;
    tracing::debug!(
        path,
        stacks,
        samples,
        bytes,
        took_ms = took.as_millis() as u64,
        "checkpoint written"
    );
    histogram!("arclamp_checkpoint_duration_seconds").record(took.as_secs_f64());
    gauge!("arclamp_last_checkpoint_timestamp_seconds", "period" => log.period.to_owned())
        .set(unix_seconds(SystemTime::now()));
    if log.is_all {
        gauge!("arclamp_distinct_stacks", "period" => log.period.to_owned(), "channel" => log.channel.to_owned())
            .set(stacks as f64);
    }
}

/// A checkpoint could not be written; it will be retried.
pub fn checkpoint_failed(path: &str, error: &str) {
    tracing::error!(
        path,
        error,
        "checkpoint failed: keeping the samples in memory and retrying"
    );
    counter!("arclamp_checkpoint_failures_total").increment(1);
}

/// Storage was opened (nothing contacted yet).
pub fn storage_opened(store: &str) {
    tracing::info!(store, "storage selected");
    gauge!("arclamp_storage_up").set(1.0);
}

/// A storage operation failed (after the backend's own retries). The first failure of an
/// outage is logged at `warn`, later ones at `debug` (the caller logs its own consequence).
pub fn storage_failed(operation: &'static str, error: &str, first_of_outage: bool) {
    if first_of_outage {
        tracing::warn!(
            operation,
            error,
            "storage unavailable: data is kept in memory and writes are retried until it is back"
        );
    } else {
        tracing::debug!(operation, error, "storage still failing");
    }
    counter!("arclamp_storage_failures_total", "operation" => operation).increment(1);
    gauge!("arclamp_storage_up").set(0.0);
}

/// What a path's top folder says it is, for the write counters (a bounded set of labels).
pub const STORAGE_KINDS: &[&str] = &["logs", "svgs", "segments", "other"];

/// An object was written: counted by kind (its top folder: logs, graphs, stream
/// segments) so operators see where PUTs and bytes go.
pub fn storage_written(path: &str, bytes: usize) {
    let top = path.split('/').next().unwrap_or_default();
    let kind = STORAGE_KINDS
        .iter()
        .copied()
        .find(|k| *k == top)
        .unwrap_or("other");
    counter!("arclamp_storage_writes_total", "kind" => kind).increment(1);
    counter!("arclamp_storage_written_bytes_total", "kind" => kind).increment(bytes as u64);
}

/// Storage works again after an outage.
pub fn storage_recovered(store: &str, outage: Duration) {
    tracing::info!(
        store,
        outage_seconds = outage.as_secs_f64(),
        "storage is back"
    );
    gauge!("arclamp_storage_up").set(1.0);
}

/// A new Swift token was fetched: the old one was about to expire, or (`rejected`) Swift
/// answered 401 to it and the request is tried once more.
pub fn swift_token_renewed(storage_url: &str, rejected: bool) {
    let reason = if rejected { "rejected" } else { "expiring" };
    tracing::debug!(storage_url, reason, "Swift token renewed");
    counter!("arclamp_swift_token_renewals_total", "reason" => reason).increment(1);
}

/// The Swift container or S3 bucket (`store`: swift, s3) did not exist and was created.
pub fn storage_container_created(store: &'static str, name: &str) {
    tracing::info!(store, name, "created the storage container (bucket)");
    counter!("arclamp_storage_containers_created_total").increment(1);
}

/// An existing checkpoint was loaded into a starting window.
pub fn checkpoint_loaded(path: &str, samples: u64, malformed_lines: u64) {
    if malformed_lines > 0 {
        tracing::warn!(
            path,
            samples,
            malformed_lines,
            "checkpoint loaded, skipping malformed lines"
        );
    } else {
        tracing::info!(path, samples, "checkpoint loaded: counts carry over");
    }
}

/// An existing checkpoint could not be read; the window keeps counting and retries.
pub fn checkpoint_load_failed(path: &str, error: &str) {
    tracing::error!(
        path,
        error,
        "cannot load existing checkpoint: counting in memory, will merge it once readable"
    );
    counter!("arclamp_checkpoint_failures_total").increment(1);
}

/// Graphs of a window were rendered.
pub fn rendered(log: &WindowLog<'_>, graphs: usize, took: Duration) {
    tracing::debug!(
        path = log.path,
        graphs,
        took_ms = took.as_millis() as u64,
        "rendered"
    );
    histogram!("arclamp_render_duration_seconds").record(took.as_secs_f64());
    gauge!("arclamp_last_render_timestamp_seconds", "period" => log.period.to_owned())
        .set(unix_seconds(SystemTime::now()));
}

/// A render failed.
pub fn render_failed(path: &str, error: &str) {
    tracing::error!(path, error, "render failed");
    counter!("arclamp_render_failures_total").increment(1);
}

/// The start-up scan for graphs older than their logs found `windows` of them: they are
/// rendered now.
pub fn stale_graphs_found(windows: usize) {
    tracing::info!(
        windows,
        "rendering windows whose graphs are older than their logs"
    );
    counter!("arclamp_stale_graphs_found_total").increment(windows as u64);
}

/// The start-up scan for graphs older than their logs could not list storage (the storage
/// failure itself is counted as such): those windows are rendered when next checkpointed.
pub fn stale_graph_scan_failed(error: &str) {
    tracing::warn!(
        error,
        "cannot scan storage for graphs older than their logs: they are rendered when their windows are next checkpointed"
    );
    counter!("arclamp_stale_graph_scan_failures_total").increment(1);
}

/// Renders waiting or running.
pub fn render_queue_depth(depth: usize) {
    gauge!("arclamp_render_queue_depth").set(depth as f64);
}

/// Retention deleted an object.
pub fn retention_deleted(period: &str, path: &str) {
    tracing::info!(period, path, "retention: deleted");
    counter!("arclamp_retention_deletions_total", "period" => period.to_owned()).increment(1);
}

/// A roll-up of `windows` windows was written (see `graphs::rollup`).
pub fn rollup_built(period: &str, path: &str, windows: usize, bytes: usize, seconds: f64) {
    tracing::info!(period, path, windows, bytes, seconds, "roll-up built");
    counter!("arclamp_rollups_built_total", "period" => period.to_owned()).increment(1);
}

/// A retention pass built the roll-ups it found missing for `period`.
pub fn rollups_pass(period: &str, built: usize, failed: usize, seconds: f64) {
    tracing::info!(
        period,
        built,
        failed,
        seconds,
        "roll-ups of the period built"
    );
}

/// A roll-up could not be built; ranges read its windows one by one meanwhile.
pub fn rollup_failed(period: &str, path: &str, error: &str) {
    tracing::warn!(
        period,
        path,
        error,
        "roll-up not built: long ranges read these windows one by one; retried at the next retention pass"
    );
    counter!("arclamp_rollup_failures_total", "period" => period.to_owned()).increment(1);
}

/// Retention could not complete a pass.
pub fn retention_failed(error: &str) {
    tracing::error!(
        error,
        "retention pass failed: will retry at the next interval"
    );
    counter!("arclamp_retention_failures_total").increment(1);
}

/// The config was reloaded (SIGHUP), or a reload was refused.
pub fn config_reloaded(result: Result<(), &str>) {
    match result {
        Ok(()) => {
            tracing::info!("config reloaded");
            counter!("arclamp_config_reloads_total", "result" => "ok").increment(1);
            gauge!("arclamp_config_last_reload_success").set(1.0);
        }
        Err(error) => {
            tracing::error!(
                error,
                "config reload refused: still running on the previous config"
            );
            counter!("arclamp_config_reloads_total", "result" => "error").increment(1);
            gauge!("arclamp_config_last_reload_success").set(0.0);
        }
    }
    gauge!("arclamp_config_last_reload_timestamp_seconds").set(unix_seconds(SystemTime::now()));
}

/// A reload could not apply the new `log.level`: the previous level stays.
pub fn log_level_change_failed(level: &str, error: &str) {
    tracing::warn!(
        level,
        error,
        "cannot change the log level (log.level): the previous level stays until a restart"
    );
    counter!("arclamp_log_level_change_failures_total").increment(1);
}

/// A reload changed a setting that only takes effect after a restart.
pub fn setting_needs_restart(key: &str) {
    tracing::warn!(
        key,
        "this setting changed but only takes effect after a restart"
    );
    counter!("arclamp_config_changes_pending_restart_total").increment(1);
}

/// Checkpoints failed while shutting down: they are retried until the shutdown timeout.
pub fn shutdown_checkpoints_retried(windows: usize, samples: u64) {
    tracing::warn!(
        windows,
        samples,
        "checkpoints failed during shutdown: retrying until the timeout (service.shutdown_timeout)"
    );
    counter!("arclamp_shutdown_checkpoint_retries_total").increment(1);
}

/// The shutdown timeout came with renders still queued. Nothing is lost: their logs are
/// saved, and the start-up scan renders them.
pub fn shutdown_renders_left() {
    tracing::warn!("shutdown timeout reached with renders still queued; their logs are saved and will be rendered at the next start");
    counter!("arclamp_shutdown_renders_left_total").increment(1);
}

/// Exiting although `windows` windows holding `samples` samples could not be checkpointed:
/// those samples are lost.
pub fn shutdown_lost_samples(windows: usize, samples: u64) {
    tracing::error!(
        windows,
        samples,
        "exiting with samples that could not be saved (storage kept failing until service.shutdown_timeout): these samples are lost"
    );
    counter!("arclamp_shutdown_lost_samples_total").increment(samples);
}

/// A stored file asked for over HTTP cannot be decoded (`/svgs/...`): the client gets a 500.
pub fn served_file_damaged(path: &str, error: &str) {
    tracing::error!(
        path,
        error,
        "a stored file asked for is damaged: delete it (a graph is rendered again from its log)"
    );
    counter!("arclamp_http_damaged_files_total").increment(1);
}

/// A stored file could not be read or decoded while its response was being sent: the
/// client got a truncated body.
pub fn serve_stream_failed(path: &str, error: &str) {
    tracing::warn!(
        path,
        error,
        "a stored file being served could not be read or decoded: the response was cut short"
    );
    counter!("arclamp_http_stream_failures_total").increment(1);
}

/// Kinds of on-demand request (`/range.svg`, `/diff.svg`, `/api/top` and `/top`).
pub const ON_DEMAND_KINDS: [&str; 4] = ["range", "diff", "top", "trend"];

/// Why an on-demand request failed on the service's side: a stored log (or summary) that
/// cannot be read as one, or inferno failing or panicking.
pub const ON_DEMAND_FAILURE_REASONS: [&str; 2] = ["damaged_log", "render"];

/// An on-demand graph or leaderboard (`kind`, one of [`ON_DEMAND_KINDS`]) failed for a
/// reason of the service's own (`reason`, one of [`ON_DEMAND_FAILURE_REASONS`]): the client
/// gets a 500. Client errors (bad queries, missing windows, busy) are not counted.
pub fn on_demand_failed(kind: &'static str, reason: &'static str, error: &str) {
    tracing::error!(kind, reason, error, "on-demand request failed");
    counter!("arclamp_on_demand_failures_total", "kind" => kind, "reason" => reason).increment(1);
}

/// What a retention pass found stored for `period` (after its deletions).
pub fn storage_usage(period: &str, usage: &Usage) {
    tracing::debug!(
        period,
        log_bytes = usage.log_bytes,
        graph_bytes = usage.graph_bytes,
        logs = usage.logs,
        graphs = usage.graphs,
        "storage use"
    );
    for (kind, bytes, files) in [
        ("logs", usage.log_bytes, usage.logs),
        ("svgs", usage.graph_bytes, usage.graphs),
    ] {
        gauge!("arclamp_stored_bytes", "period" => period.to_owned(), "kind" => kind)
            .set(bytes as f64);
        gauge!("arclamp_stored_files", "period" => period.to_owned(), "kind" => kind)
            .set(files as f64);
    }
    // No windows: no timestamps rather than a misleading 1970.
    let window_time = |name: &'static str, t: Option<DateTime<Utc>>| match t {
        Some(t) => gauge!(name, "period" => period.to_owned()).set(t.timestamp() as f64),
        None => gauge!(name, "period" => period.to_owned()).set(f64::NAN),
    };
    window_time("arclamp_oldest_window_timestamp_seconds", usage.oldest);
    window_time("arclamp_newest_window_timestamp_seconds", usage.newest);
}

/// Live aggregators of a period, and interned stacks overall.
pub fn aggregation_state(
    active_by_period: &[(String, usize)],
    stacks: usize,
    stack_text_bytes: u64,
) {
    for (period, active) in active_by_period {
        gauge!("arclamp_active_aggregators", "period" => period.clone()).set(*active as f64);
    }
    gauge!("arclamp_interned_stacks").set(stacks as f64);
    gauge!("arclamp_stack_text_bytes").set(stack_text_bytes as f64);
}

/// Kinds of actor whose restarts are counted.
pub const ACTOR_KINDS: [&str; 7] = [
    "subscriber",
    "router",
    "aggregator",
    "render_queue",
    "retention",
    "stream_reader",
    "housekeeper",
];

/// Every metric with its help text, so `/metrics` documents itself (`# HELP`).
const DESCRIPTIONS: &[(&str, MetricKind, &str)] = &[
    ("arclamp_pubsub_writer", MetricKind::Gauge, "Pub/sub mode: 1 while this instance holds the writer lease (counts and writes), 0 while it stands by."),
    ("arclamp_pubsub_standby_buffered_messages", MetricKind::Gauge, "Pub/sub mode: messages a standby holds for a takeover."),
    ("arclamp_pubsub_standby_expired_messages_total", MetricKind::Counter, "Pub/sub mode: messages a standby dropped from its buffer (older than aggregation.flush_interval: the writer counted them)."),
    ("arclamp_pubsub_takeovers_total", MetricKind::Counter, "Pub/sub mode: writer leases taken, by whether the previous writer handed over."),
    ("arclamp_pubsub_takeover_channels_total", MetricKind::Counter, "Pub/sub and bridge modes: channels taken over, by how the buffer was cut (marker: the old writer handed over; tail: bridge mode found the old writer's last appends; all: everything buffered was counted)."),
    ("arclamp_bridge_appended_total", MetricKind::Counter, "Bridge mode: pub/sub messages appended to their channel's stream, per channel."),
    ("arclamp_bridge_pending_messages", MetricKind::Gauge, "Bridge mode: messages received and not appended yet."),
    ("arclamp_bridge_append_failures_total", MetricKind::Counter, "Bridge mode: appends that failed (Redis unavailable) and are retried."),
    ("arclamp_bridge_dropped_messages_total", MetricKind::Counter, "Bridge mode: messages dropped because appends kept failing and the bridge held all it may (a real loss)."),
    ("arclamp_bridge_fenced_messages_total", MetricKind::Counter, "Bridge mode: messages not appended because another instance took the writer lease (it forwards them)."),
    ("arclamp_bridge_suspensions_total", MetricKind::Counter, "Bridge mode: times the writer's subscription ended and it held messages until the lease said who writes."),
    ("arclamp_bridge_step_downs_total", MetricKind::Counter, "Bridge mode: writer leases handed to an instance subscribed longer (after a Redis restart or a dropped connection)."),
    ("arclamp_pubsub_writer_lease_lost_total", MetricKind::Counter, "Pub/sub mode: writer leases lost to another instance (this one then exits)."),
    ("arclamp_storage_writes_total", MetricKind::Counter, "Objects written, by kind (top folder: logs, svgs, segments, other)."),
    ("arclamp_storage_written_bytes_total", MetricKind::Counter, "Bytes of objects written, by kind (top folder: logs, svgs, segments, other)."),
    ("arclamp_stream_entries_read_total", MetricKind::Counter, "Stream mode: entries read, per channel and how (new, pending, claimed)."),
    ("arclamp_stream_entries_lost_total", MetricKind::Counter, "Stream mode: entries lost before they were counted, per channel and why (pending or unread: trimmed; no_data)."),
    ("arclamp_stream_epoch", MetricKind::Gauge, "Stream mode: this consumer's epoch (its fencing token)."),
    ("arclamp_stream_commits_total", MetricKind::Counter, "Stream mode: commits, per result (ok, fenced, failed)."),
    ("arclamp_stream_entries_acked_total", MetricKind::Counter, "Stream mode: entries acknowledged by this replica's commits."),
    ("arclamp_stream_commit_bytes_total", MetricKind::Counter, "Stream mode: bytes of segments committed."),
    ("arclamp_stream_commit_duration_seconds", MetricKind::Histogram, "Stream mode: time to encode, write and commit a delta."),
    ("arclamp_last_commit_timestamp_seconds", MetricKind::Gauge, "Stream mode: when this replica last committed."),
    ("arclamp_stream_claimed_entries_total", MetricKind::Counter, "Stream mode: entries taken over from other consumers, per channel."),
    ("arclamp_stream_uncommitted_entries", MetricKind::Gauge, "Stream mode: entries read and not yet committed by this replica."),
    ("arclamp_stream_pending_entries", MetricKind::Gauge, "Stream mode: entries the group has not acknowledged, per channel."),
    ("arclamp_stream_length_entries", MetricKind::Gauge, "Stream mode: entries in the stream (acknowledged ones until trimmed), per channel."),
    ("arclamp_stream_lag_entries", MetricKind::Gauge, "Stream mode: entries no consumer of the group has read yet, per channel (NaN when Redis cannot tell)."),
    ("arclamp_stream_consumers", MetricKind::Gauge, "Stream mode: consumers the group knows, per channel."),
    ("arclamp_stream_active_consumers", MetricKind::Gauge, "Stream mode: consumers that read within claim_after (the replicas consuming now), per channel."),
    ("arclamp_stream_open_windows", MetricKind::Gauge, "Stream mode: windows with committed samples not sealed yet, per channel."),
    ("arclamp_stream_oldest_open_window_end_timestamp_seconds", MetricKind::Gauge, "Stream mode: end of the oldest window not sealed yet, per channel (far in the past: sealing stalls)."),
    ("arclamp_stream_consumers_forgotten_total", MetricKind::Counter, "Stream mode: consumers long gone and holding nothing, removed from the group."),
    ("arclamp_stream_lease_held", MetricKind::Gauge, "Stream mode: 1 while this replica holds the housekeeping lease."),
    ("arclamp_stream_seals_total", MetricKind::Counter, "Stream mode: windows sealed into their final logs, per result."),
    ("arclamp_stream_seal_duration_seconds", MetricKind::Histogram, "Stream mode: time to merge a window's deltas into its logs."),
    ("arclamp_stream_housekeeping_failures_total", MetricKind::Counter, "Stream mode: housekeeping passes that failed."),
    ("arclamp_stream_segments_deleted_total", MetricKind::Counter, "Stream mode: segments deleted once no index refers to them."),
    ("arclamp_build_info", MetricKind::Gauge, "Always 1; the version label says which arclamp runs."),
    ("arclamp_messages_received_total", MetricKind::Counter, "Redis messages received, per channel."),
    ("arclamp_samples_received_total", MetricKind::Counter, "Samples (sum of counts) accepted, per channel."),
    ("arclamp_samples_rejected_total", MetricKind::Counter, "Lines rejected (messages for too_large), per channel and reason."),
    ("arclamp_messages_sampled_out_total", MetricKind::Counter, "Messages skipped by aggregation.sample_every, per channel."),
    ("arclamp_entry_overflow_total", MetricKind::Counter, "Samples of entry points beyond aggregation.max_entry_points (counted in all only), per channel."),
    ("arclamp_batches_dropped_total", MetricKind::Counter, "Messages lost because parsing their batch crashed (a bug)."),
    ("arclamp_samples_aggregated_total", MetricKind::Counter, "Samples aggregated into windows, per period and entry point."),
    ("arclamp_redis_connected", MetricKind::Gauge, "1 while subscribed to Redis, 0 otherwise."),
    ("arclamp_redis_reconnects_total", MetricKind::Counter, "Resubscriptions after a Redis outage."),
    ("arclamp_subscription_changes_total", MetricKind::Counter, "Reloads that changed the subscribed channels."),
    ("arclamp_actor_restarts_total", MetricKind::Counter, "Actors restarted after stopping or dying, per actor kind."),
    ("arclamp_actor_restart_failures_total", MetricKind::Counter, "Dead actors that could not be started again (their config was refused)."),
    ("arclamp_checkpoint_duration_seconds", MetricKind::Histogram, "Time to write one window's checkpoint."),
    ("arclamp_checkpoint_failures_total", MetricKind::Counter, "Checkpoints that could not be written or loaded (retried)."),
    ("arclamp_storage_failures_total", MetricKind::Counter, "Storage operations that failed after the backend's retries, per operation (read, write, list, delete, stat, check)."),
    ("arclamp_swift_token_renewals_total", MetricKind::Counter, "Swift tokens fetched again, per reason (expiring, rejected: Swift answered 401)."),
    ("arclamp_storage_containers_created_total", MetricKind::Counter, "Swift containers or S3 buckets created because they did not exist."),
    ("arclamp_storage_up", MetricKind::Gauge, "1 while storage works, 0 from a failed operation until the next success (writes failing keep it at 0)."),
    ("arclamp_last_checkpoint_timestamp_seconds", MetricKind::Gauge, "When a checkpoint of the period was last written (Unix time)."),
    ("arclamp_distinct_stacks", MetricKind::Gauge, "Distinct stacks in the current window of entry point all, per period and channel, as of its last checkpoint."),
    ("arclamp_interned_stacks", MetricKind::Gauge, "Distinct stacks held in memory by all live windows."),
    ("arclamp_stack_text_bytes", MetricKind::Gauge, "Bytes of frame text held in memory by all live windows."),
    ("arclamp_active_aggregators", MetricKind::Gauge, "Live window aggregators, per period."),
    ("arclamp_render_duration_seconds", MetricKind::Histogram, "Time to render one window's graphs."),
    ("arclamp_render_failures_total", MetricKind::Counter, "Window renders that failed."),
    ("arclamp_last_render_timestamp_seconds", MetricKind::Gauge, "When a window of the period was last rendered (Unix time)."),
    ("arclamp_render_queue_depth", MetricKind::Gauge, "Window renders queued or running."),
    ("arclamp_stale_graphs_found_total", MetricKind::Counter, "Windows found at start with graphs older than their logs (rendered again)."),
    ("arclamp_stale_graph_scan_failures_total", MetricKind::Counter, "Start-up scans for graphs older than their logs that could not list storage."),
    ("arclamp_http_damaged_files_total", MetricKind::Counter, "Stored files asked for over HTTP that could not be decoded (answered 500)."),
    ("arclamp_http_stream_failures_total", MetricKind::Counter, "Responses cut short because a stored file could not be read or decoded while sent."),
    ("arclamp_on_demand_failures_total", MetricKind::Counter, "On-demand graphs and leaderboards that failed on the service's side (answered 500), per kind (range, diff, top) and reason (damaged_log, render)."),
    ("arclamp_retention_deletions_total", MetricKind::Counter, "Logs and graphs deleted by retention, per period."),
    ("arclamp_retention_failures_total", MetricKind::Counter, "Retention passes that failed (retried next interval)."),
    ("arclamp_rollups_built_total", MetricKind::Counter, "Roll-ups (range summaries of 8 or 64 windows, for long ranges) written, per period."),
    ("arclamp_rollup_failures_total", MetricKind::Counter, "Roll-ups that could not be built (retried at the next retention pass), per period."),
    ("arclamp_stored_bytes", MetricKind::Gauge, "Bytes stored per period and kind (logs, svgs), as of the last retention pass."),
    ("arclamp_stored_files", MetricKind::Gauge, "Files stored per period and kind (logs, svgs), as of the last retention pass."),
    ("arclamp_oldest_window_timestamp_seconds", MetricKind::Gauge, "Start of the oldest stored window of the period (Unix time)."),
    ("arclamp_newest_window_timestamp_seconds", MetricKind::Gauge, "Start of the newest stored window of the period (Unix time)."),
    ("arclamp_config_reloads_total", MetricKind::Counter, "SIGHUP config reloads, per result (ok, error)."),
    ("arclamp_config_last_reload_success", MetricKind::Gauge, "0 if the last config reload was refused (the previous config keeps running), 1 otherwise."),
    ("arclamp_config_last_reload_timestamp_seconds", MetricKind::Gauge, "When the config was last reloaded or refused (Unix time)."),
    ("arclamp_log_level_change_failures_total", MetricKind::Counter, "Reloads whose log.level could not be applied (the previous level stays)."),
    ("arclamp_config_changes_pending_restart_total", MetricKind::Counter, "Settings changed by a reload that only take effect after a restart."),
    ("arclamp_shutdown_checkpoint_retries_total", MetricKind::Counter, "Rounds of checkpoints retried during shutdown because some failed."),
    ("arclamp_shutdown_renders_left_total", MetricKind::Counter, "Shutdowns that timed out with renders still queued (rendered at the next start)."),
    ("arclamp_shutdown_lost_samples_total", MetricKind::Counter, "Samples lost because their windows could not be checkpointed before the shutdown timeout."),
];

#[derive(Clone, Copy)]
enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

/// Stream mode's counters at 0 (a fenced commit or a loss is then an increase from 0).
fn register_stream(channels: &[String]) {
    for name in [
        "arclamp_stream_entries_acked_total",
        "arclamp_stream_commit_bytes_total",
        "arclamp_stream_housekeeping_failures_total",
        "arclamp_stream_segments_deleted_total",
    ] {
        counter!(name).absolute(0);
    }
    for result in ["ok", "fenced", "failed"] {
        counter!("arclamp_stream_commits_total", "result" => result).absolute(0);
    }
    for result in ["ok", "failed"] {
        counter!("arclamp_stream_seals_total", "result" => result).absolute(0);
    }
    gauge!("arclamp_stream_lease_held").set(0.0);
    gauge!("arclamp_stream_uncommitted_entries").set(0.0);
    for channel in channels {
        for how in ["new", "pending", "claimed"] {
            counter!("arclamp_stream_entries_read_total", "channel" => channel.clone(), "how" => how)
                .absolute(0);
        }
        for why in ["pending", "unread", "no_data"] {
            counter!("arclamp_stream_entries_lost_total", "channel" => channel.clone(), "why" => why)
                .absolute(0);
        }
        for name in [
            "arclamp_stream_claimed_entries_total",
            "arclamp_stream_consumers_forgotten_total",
        ] {
            counter!(name, "channel" => channel.clone()).absolute(0);
        }
    }
}

/// Document every metric and create the series known at start at 0, so that Prometheus
/// sees a counter before its first increment (`increase()` needs the 0) and dashboards
/// show 0 rather than "no data".
pub fn register(channels: &[String], periods: &[String], reads_streams: bool, subscribes: bool) {
    for &(name, kind, help) in DESCRIPTIONS {
        match kind {
            MetricKind::Counter => metrics::describe_counter!(name, help),
            MetricKind::Gauge => metrics::describe_gauge!(name, help),
            MetricKind::Histogram => metrics::describe_histogram!(name, help),
        }
    }
    for name in [
        "arclamp_batches_dropped_total",
        "arclamp_redis_reconnects_total",
        "arclamp_checkpoint_failures_total",
        "arclamp_render_failures_total",
        "arclamp_retention_failures_total",
        "arclamp_actor_restart_failures_total",
        "arclamp_stale_graphs_found_total",
        "arclamp_stale_graph_scan_failures_total",
        "arclamp_http_damaged_files_total",
        "arclamp_http_stream_failures_total",
        "arclamp_config_changes_pending_restart_total",
        "arclamp_shutdown_checkpoint_retries_total",
        "arclamp_shutdown_renders_left_total",
        "arclamp_shutdown_lost_samples_total",
        "arclamp_subscription_changes_total",
        "arclamp_storage_containers_created_total",
        "arclamp_log_level_change_failures_total",
    ] {
        counter!(name).absolute(0);
    }
    for kind in ON_DEMAND_KINDS {
        for reason in ON_DEMAND_FAILURE_REASONS {
            counter!("arclamp_on_demand_failures_total", "kind" => kind, "reason" => reason)
                .absolute(0);
        }
    }
    for kind in ACTOR_KINDS {
        counter!("arclamp_actor_restarts_total", "actor" => kind).absolute(0);
    }
    for operation in ["read", "write", "list", "delete", "stat", "check"] {
        counter!("arclamp_storage_failures_total", "operation" => operation).absolute(0);
    }
    for kind in STORAGE_KINDS {
        counter!("arclamp_storage_writes_total", "kind" => *kind).absolute(0);
        counter!("arclamp_storage_written_bytes_total", "kind" => *kind).absolute(0);
    }
    for reason in ["expiring", "rejected"] {
        counter!("arclamp_swift_token_renewals_total", "reason" => reason).absolute(0);
    }
    for result in ["ok", "error"] {
        counter!("arclamp_config_reloads_total", "result" => result).absolute(0);
    }
    for channel in channels {
        for name in [
            "arclamp_messages_received_total",
            "arclamp_samples_received_total",
            "arclamp_messages_sampled_out_total",
            "arclamp_entry_overflow_total",
        ] {
            counter!(name, "channel" => channel.clone()).absolute(0);
        }
        for reason in Rejection::ALL {
            counter!("arclamp_samples_rejected_total", "channel" => channel.clone(), "reason" => reason.as_str())
                .absolute(0);
        }
    }
    for period in periods {
        counter!("arclamp_retention_deletions_total", "period" => period.clone()).absolute(0);
        counter!("arclamp_rollups_built_total", "period" => period.clone()).absolute(0);
        counter!("arclamp_rollup_failures_total", "period" => period.clone()).absolute(0);
    }
    if reads_streams {
        register_stream(channels);
    }
    if reads_streams && subscribes {
        for channel in channels {
            counter!("arclamp_bridge_appended_total", "channel" => channel.clone()).absolute(0);
        }
        for name in [
            "arclamp_bridge_append_failures_total",
            "arclamp_bridge_dropped_messages_total",
            "arclamp_bridge_fenced_messages_total",
            "arclamp_bridge_suspensions_total",
            "arclamp_bridge_step_downs_total",
        ] {
            counter!(name).absolute(0);
        }
        gauge!("arclamp_bridge_pending_messages").set(0.0);
    }
    if subscribes {
        for name in [
            "arclamp_pubsub_writer_lease_lost_total",
            "arclamp_pubsub_standby_expired_messages_total",
        ] {
            counter!(name).absolute(0);
        }
        for handover in ["yes", "no"] {
            counter!("arclamp_pubsub_takeovers_total", "handover" => handover).absolute(0);
        }
        for channel in channels {
            for cut in ["marker", "tail", "all"] {
                counter!("arclamp_pubsub_takeover_channels_total", "channel" => channel.clone(), "cut" => cut)
                    .absolute(0);
            }
        }
        gauge!("arclamp_pubsub_standby_buffered_messages").set(0.0);
    }
    gauge!("arclamp_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    // Not subscribed until the subscriber says so.
    gauge!("arclamp_redis_connected").set(0.0);
    gauge!("arclamp_render_queue_depth").set(0.0);
    // The config in force was accepted (at start); a refused reload sets 0.
    gauge!("arclamp_config_last_reload_success").set(1.0);
}
