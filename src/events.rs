//! Operational events: each one is a single function that both logs and counts, so a log
//! line and its Prometheus series can never disagree (the pattern of vector's
//! `internal_events`). Every metric is named `arclamp_*`.

use std::time::Duration;

use metrics::{counter, gauge, histogram};

use crate::sample::Rejection;

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

/// A window was checkpointed.
pub fn checkpoint_written(path: &str, stacks: usize, samples: u64, bytes: usize, took: Duration) {
    tracing::debug!(
        path,
        stacks,
        samples,
        bytes,
        took_ms = took.as_millis() as u64,
        "checkpoint written"
    );
    histogram!("arclamp_checkpoint_duration_seconds").record(took.as_secs_f64());
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
pub fn rendered(path: &str, graphs: usize, took: Duration) {
    tracing::debug!(path, graphs, took_ms = took.as_millis() as u64, "rendered");
    histogram!("arclamp_render_duration_seconds").record(took.as_secs_f64());
}

/// A render failed.
pub fn render_failed(path: &str, error: &str) {
    tracing::error!(path, error, "render failed");
    counter!("arclamp_render_failures_total").increment(1);
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
        }
        Err(error) => {
            tracing::error!(
                error,
                "config reload refused: still running on the previous config"
            );
            counter!("arclamp_config_reloads_total", "result" => "error").increment(1);
        }
    }
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
    gauge!("arclamp_distinct_stacks").set(stacks as f64);
    gauge!("arclamp_stack_text_bytes").set(stack_text_bytes as f64);
}
