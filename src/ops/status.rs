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
}

/// How the last reload went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadOutcome {
    /// When (Unix seconds).
    pub at: f64,
    /// `None` when applied; the reason it was refused otherwise.
    pub error: Option<String>,
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
}
