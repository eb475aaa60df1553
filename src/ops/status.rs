//! The runtime report behind `/status` and `/api/status`: every number read from the
//! metrics registry (the series `/metrics` exports, see [`crate::ops::exposition`]) and every
//! piece of configuration from the running service ([`Overview`]), so the dashboard can never
//! disagree with Prometheus. Rates are left to the reader (the page's script divides the
//! difference of two reports by the time between them), so the report is a plain snapshot.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ops::exposition::Series;

/// The running configuration as `/status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Overview {
    /// The Redis URL, password redacted.
    pub redis_url: String,
    /// Subscribed channels.
    pub channels: Vec<String>,
    /// Configured periods.
    pub periods: Vec<String>,
    /// Configs applied since start: 1 for the one read at start, +1 per successful reload.
    pub config_generation: u64,
    /// Short digest of the effective config (secrets redacted): equal digests, equal configs.
    pub config_digest: String,
    /// When the running config was applied (Unix seconds).
    pub config_applied_at: f64,
    /// The last SIGHUP reload, if any.
    pub last_reload: Option<ReloadOutcome>,
    /// Shutting down.
    pub shutting_down: bool,
    /// Stream mode (`redis.source = "stream"`): the report then describes the group too.
    pub stream_mode: bool,
}

/// How the last reload went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadOutcome {
    /// When (Unix seconds).
    pub at: f64,
    /// `None` when applied; the reason it was refused otherwise.
    pub error: Option<String>,
}

/// How a consumer group stands on one stream (stream mode), as the ledger reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupView {
    /// Entries in the stream (acknowledged ones included, until trimmed).
    pub length: u64,
    /// Entries not yet delivered to any consumer of the group (`None`: Redis cannot tell,
    /// e.g. after entries were deleted from the middle of the stream).
    pub lag: Option<u64>,
    /// Entries delivered and not yet acknowledged (committed).
    pub pending: u64,
    /// Consumers the group knows.
    pub consumers: u64,
    /// Consumers that asked for entries recently: the replicas consuming now.
    pub active_consumers: u64,
    /// Windows with committed samples not sealed yet.
    pub open_windows: u64,
    /// End (ms) of the oldest window not sealed yet: far in the past means sealing stalls.
    pub oldest_open_end_ms: Option<i64>,
}

/// One stream as the whole consumer group stands on it, as of this replica's last
/// housekeeping pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StreamChannelReport {
    /// The stream key (a configured channel).
    pub channel: String,
    /// Entries in the stream.
    pub length: Option<f64>,
    /// Entries no consumer has read yet (`None`: unknown).
    pub lag: Option<f64>,
    /// Entries read and not yet committed, by all consumers.
    pub pending: Option<f64>,
    /// Consumers reading now.
    pub active_consumers: Option<f64>,
    /// Consumers the group knows (gone ones are forgotten after an hour).
    pub consumers: Option<f64>,
    /// Windows not sealed yet.
    pub open_windows: Option<f64>,
    /// End of the oldest window not sealed yet (Unix seconds).
    pub oldest_open_window_end: Option<f64>,
    /// Entries lost before they were counted, by why (`unread`, `pending`, `no_data`).
    pub lost: BTreeMap<String, f64>,
}

/// Stream mode: the group (per stream) and this replica's part in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StreamReport {
    /// The group on each configured stream.
    pub channels: Vec<StreamChannelReport>,
    /// This replica holds the housekeeping lease (seals, trims, collects garbage).
    pub lease_held: bool,
    /// This replica's current epoch (its fencing token).
    pub epoch: f64,
    /// Entries this replica read and has not committed yet.
    pub uncommitted_entries: f64,
    /// This replica's commits by result (`ok`, `fenced`, `failed`).
    pub commits: BTreeMap<String, f64>,
    /// Entries this replica acknowledged.
    pub entries_acked: f64,
    /// Entries this replica took over from others.
    pub entries_claimed: f64,
    /// This replica's last successful commit (Unix seconds).
    pub last_commit: Option<f64>,
}

/// One channel's traffic since start.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChannelReport {
    /// Channel name.
    pub channel: String,
    /// Redis messages received.
    pub messages_received: f64,
    /// Samples (sum of counts) accepted.
    pub samples_received: f64,
    /// Rejected lines (or messages for `too_large`) by reason.
    pub rejected: BTreeMap<String, f64>,
}

/// One period's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PeriodReport {
    /// Period name.
    pub period: String,
    /// Aggregators live (current window, and ended ones still writing).
    pub active_aggregators: f64,
    /// Distinct stacks in the current windows' `all` logs (summed over channels), as of
    /// their last checkpoint.
    pub distinct_stacks: f64,
    /// Samples aggregated since start.
    pub samples_aggregated: f64,
    /// Last checkpoint (Unix seconds), if any since start.
    pub last_checkpoint: Option<f64>,
    /// Last render (Unix seconds), if any since start.
    pub last_render: Option<f64>,
    /// Bytes of logs stored, as of the last retention pass.
    pub log_bytes: Option<f64>,
    /// Bytes of graphs stored, as of the last retention pass.
    pub graph_bytes: Option<f64>,
    /// Start of the oldest stored window (Unix seconds).
    pub oldest_window: Option<f64>,
    /// Start of the newest stored window (Unix seconds).
    pub newest_window: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// arclamp's version.
    pub version: &'static str,
    /// When this report was taken (Unix seconds), for rates.
    pub time: f64,
    /// Subscribed to Redis.
    pub redis_connected: bool,
    /// Reconnections after an outage since start.
    pub redis_reconnects: f64,
    /// Traffic per channel (configured channels first, then any others seen).
    pub channels: Vec<ChannelReport>,
    /// State per configured period.
    pub periods: Vec<PeriodReport>,
    /// Renders waiting or running.
    pub render_queue_depth: f64,
    /// Checkpoint failures since start.
    pub checkpoint_failures: f64,
    /// Render failures since start.
    pub render_failures: f64,
    /// Actor restarts by actor kind.
    pub actor_restarts: BTreeMap<String, f64>,
    /// Config reloads by result (`ok`, `error`).
    pub config_reloads: BTreeMap<String, f64>,
    /// Stream mode only: the consumer group and this replica's part in it.
    pub stream: Option<StreamReport>,
    /// The running configuration.
    pub overview: Overview,
}

/// Build the report from the exported series and the supervisor's overview.
pub fn report(series: &[Series], overview: Overview, time: f64) -> StatusReport {
    let value = |name: &str| -> f64 {
        series
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.value)
            .sum()
    };
    let by_label = |name: &str, label: &str| -> BTreeMap<String, f64> {
        let mut map = BTreeMap::new();
        for s in series.iter().filter(|s| s.name == name) {
            if let Some(key) = s.label(label) {
                *map.entry(key.to_owned()).or_insert(0.0) += s.value;
            }
        }
        map
    };

    let mut channel_names = overview.channels.clone();
    for s in series
        .iter()
        .filter(|s| s.name == "arclamp_samples_received_total")
    {
        if let Some(c) = s.label("channel") {
            if !channel_names.iter().any(|n| n == c) {
                channel_names.push(c.to_owned());
            }
        }
    }
    let of_channel = |name: &str, channel: &str| -> f64 {
        series
            .iter()
            .filter(|s| s.name == name && s.label("channel") == Some(channel))
            .map(|s| s.value)
            .sum()
    };
    let channels = channel_names
        .into_iter()
        .map(|channel| {
            let mut rejected = BTreeMap::new();
            for s in series.iter().filter(|s| {
                s.name == "arclamp_samples_rejected_total"
                    && s.label("channel") == Some(channel.as_str())
            }) {
                if let Some(reason) = s.label("reason") {
                    *rejected.entry(reason.to_owned()).or_insert(0.0) += s.value;
                }
            }
            ChannelReport {
                messages_received: of_channel("arclamp_messages_received_total", &channel),
                samples_received: of_channel("arclamp_samples_received_total", &channel),
                rejected,
                channel,
            }
        })
        .collect();

    let of_period = |name: &str, period: &str, extra: Option<(&str, &str)>| -> Option<f64> {
        let mut found = None;
        for s in series.iter().filter(|s| {
            s.name == name
                && s.label("period") == Some(period)
                && extra.is_none_or(|(k, v)| s.label(k) == Some(v))
        }) {
            if !s.value.is_nan() {
                found = Some(found.unwrap_or(0.0) + s.value);
            }
        }
        found
    };
    let periods = overview
        .periods
        .iter()
        .map(|period| PeriodReport {
            period: period.clone(),
            active_aggregators: of_period("arclamp_active_aggregators", period, None)
                .unwrap_or(0.0),
            distinct_stacks: of_period("arclamp_distinct_stacks", period, None).unwrap_or(0.0),
            samples_aggregated: of_period("arclamp_samples_aggregated_total", period, None)
                .unwrap_or(0.0),
            last_checkpoint: of_period("arclamp_last_checkpoint_timestamp_seconds", period, None),
            last_render: of_period("arclamp_last_render_timestamp_seconds", period, None),
            log_bytes: of_period("arclamp_stored_bytes", period, Some(("kind", "logs"))),
            graph_bytes: of_period("arclamp_stored_bytes", period, Some(("kind", "svgs"))),
            oldest_window: of_period("arclamp_oldest_window_timestamp_seconds", period, None),
            newest_window: of_period("arclamp_newest_window_timestamp_seconds", period, None),
        })
        .collect();

    let stream = overview.stream_mode.then(|| {
        let gauge = |name: &str, channel: &str| -> Option<f64> {
            series
                .iter()
                .find(|s| s.name == name && s.label("channel") == Some(channel))
                .map(|s| s.value)
                .filter(|v| !v.is_nan())
        };
        StreamReport {
            channels: overview
                .channels
                .iter()
                .map(|channel| StreamChannelReport {
                    channel: channel.clone(),
                    length: gauge("arclamp_stream_length_entries", channel),
                    lag: gauge("arclamp_stream_lag_entries", channel),
                    pending: gauge("arclamp_stream_pending_entries", channel),
                    active_consumers: gauge("arclamp_stream_active_consumers", channel),
                    consumers: gauge("arclamp_stream_consumers", channel),
                    open_windows: gauge("arclamp_stream_open_windows", channel),
                    oldest_open_window_end: gauge(
                        "arclamp_stream_oldest_open_window_end_timestamp_seconds",
                        channel,
                    ),
                    lost: series
                        .iter()
                        .filter(|s| {
                            s.name == "arclamp_stream_entries_lost_total"
                                && s.label("channel") == Some(channel.as_str())
                        })
                        .filter_map(|s| Some((s.label("why")?.to_owned(), s.value)))
                        .collect(),
                })
                .collect(),
            lease_held: value("arclamp_stream_lease_held") >= 1.0,
            epoch: value("arclamp_stream_epoch"),
            uncommitted_entries: value("arclamp_stream_uncommitted_entries"),
            commits: by_label("arclamp_stream_commits_total", "result"),
            entries_acked: value("arclamp_stream_entries_acked_total"),
            entries_claimed: value("arclamp_stream_claimed_entries_total"),
            last_commit: series
                .iter()
                .find(|s| s.name == "arclamp_last_commit_timestamp_seconds")
                .map(|s| s.value),
        }
    });

    StatusReport {
        version: env!("CARGO_PKG_VERSION"),
        time,
        redis_connected: value("arclamp_redis_connected") >= 1.0,
        redis_reconnects: value("arclamp_redis_reconnects_total"),
        channels,
        periods,
        render_queue_depth: value("arclamp_render_queue_depth"),
        checkpoint_failures: value("arclamp_checkpoint_failures_total"),
        render_failures: value("arclamp_render_failures_total"),
        actor_restarts: by_label("arclamp_actor_restarts_total", "actor"),
        config_reloads: by_label("arclamp_config_reloads_total", "result"),
        stream,
        overview,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::exposition;

    fn overview() -> Overview {
        Overview {
            redis_url: "redis://127.0.0.1:6379".into(),
            channels: vec!["excimer".into(), "excimer-wall".into()],
            periods: vec!["daily".into(), "hourly".into()],
            config_generation: 2,
            config_digest: "0123456789abcdef".into(),
            config_applied_at: 5.0,
            last_reload: None,
            shutting_down: false,
            stream_mode: false,
        }
    }

    #[test]
    fn every_number_comes_from_its_series() {
        let text = r#"
arclamp_redis_connected 1
arclamp_samples_received_total{channel="excimer"} 100
arclamp_messages_received_total{channel="excimer"} 10
arclamp_samples_rejected_total{channel="excimer",reason="no_count"} 3
arclamp_samples_rejected_total{channel="excimer",reason="too_deep"} 2
arclamp_samples_received_total{channel="other"} 7
arclamp_active_aggregators{period="hourly"} 6
arclamp_distinct_stacks{period="hourly",channel="excimer"} 40
arclamp_distinct_stacks{period="hourly",channel="excimer-wall"} 2
arclamp_stored_bytes{period="daily",kind="logs"} 1000
arclamp_stored_bytes{period="daily",kind="svgs"} 500
arclamp_oldest_window_timestamp_seconds{period="hourly"} NaN
arclamp_newest_window_timestamp_seconds{period="daily"} 1764000000
arclamp_actor_restarts_total{actor="subscriber"} 4
arclamp_config_reloads_total{result="error"} 1
arclamp_render_queue_depth 2
"#;
        let report = report(&exposition::parse(text), overview(), 9.0);
        assert!(report.redis_connected);
        let names: Vec<&str> = report.channels.iter().map(|c| c.channel.as_str()).collect();
        assert_eq!(names, vec!["excimer", "excimer-wall", "other"]);
        let excimer = &report.channels[0];
        assert_eq!(excimer.samples_received, 100.0);
        assert_eq!(excimer.messages_received, 10.0);
        assert_eq!(excimer.rejected["no_count"], 3.0);
        assert_eq!(excimer.rejected["too_deep"], 2.0);
        assert_eq!(report.channels[1].samples_received, 0.0);
        let hourly = &report.periods[1];
        assert_eq!(hourly.active_aggregators, 6.0);
        assert_eq!(hourly.distinct_stacks, 42.0);
        assert_eq!(hourly.oldest_window, None);
        let daily = &report.periods[0];
        assert_eq!(daily.log_bytes, Some(1000.0));
        assert_eq!(daily.graph_bytes, Some(500.0));
        assert_eq!(daily.newest_window, Some(1_764_000_000.0));
        assert_eq!(daily.last_checkpoint, None);
        assert_eq!(report.actor_restarts["subscriber"], 4.0);
        assert_eq!(report.config_reloads["error"], 1.0);
        assert_eq!(report.render_queue_depth, 2.0);
    }

    #[test]
    fn in_stream_mode_the_report_describes_the_group_and_this_replica() {
        let text = r#"
arclamp_stream_length_entries{channel="excimer"} 900
arclamp_stream_lag_entries{channel="excimer"} 12
arclamp_stream_pending_entries{channel="excimer"} 30
arclamp_stream_consumers{channel="excimer"} 3
arclamp_stream_active_consumers{channel="excimer"} 2
arclamp_stream_open_windows{channel="excimer"} 4
arclamp_stream_lag_entries{channel="excimer-wall"} NaN
arclamp_stream_entries_lost_total{channel="excimer",why="unread"} 7
arclamp_stream_lease_held 1
arclamp_stream_epoch 5
arclamp_stream_commits_total{result="ok"} 10
arclamp_stream_commits_total{result="fenced"} 1
arclamp_stream_entries_acked_total 870
"#;
        let series = exposition::parse(text);
        assert_eq!(report(&series, overview(), 9.0).stream, None);
        let stream = report(
            &series,
            Overview {
                stream_mode: true,
                ..overview()
            },
            9.0,
        )
        .stream
        .expect("stream mode reports the group");
        let excimer = &stream.channels[0];
        assert_eq!(excimer.length, Some(900.0));
        assert_eq!(excimer.lag, Some(12.0));
        assert_eq!(excimer.pending, Some(30.0));
        assert_eq!(excimer.active_consumers, Some(2.0));
        assert_eq!(excimer.consumers, Some(3.0));
        assert_eq!(excimer.open_windows, Some(4.0));
        assert_eq!(excimer.lost["unread"], 7.0);
        let wall = &stream.channels[1];
        assert_eq!(
            (wall.channel.as_str(), wall.lag, wall.pending),
            ("excimer-wall", None, None)
        );
        assert!(stream.lease_held);
        assert_eq!(stream.epoch, 5.0);
        assert_eq!(stream.commits["fenced"], 1.0);
        assert_eq!(stream.entries_acked, 870.0);
        assert_eq!(stream.last_commit, None);
    }
}
