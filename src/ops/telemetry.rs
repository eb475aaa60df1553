//! Logs and metrics set-up: tracing-subscriber (text or JSON lines, level reloadable on
//! SIGHUP) and the Prometheus recorder behind `/metrics`.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use serde::{Deserialize, Serialize};

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json` (one JSON object per line).
    pub format: String,
    /// A tracing filter (`info`, `arclamp=debug`); `RUST_LOG` takes precedence.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

/// Changes the log level of a running process.
#[derive(Clone)]
pub struct LogControl {
    handle: Option<reload::Handle<EnvFilter, Registry>>,
}

impl LogControl {
    /// A control that changes nothing (tools and tests without logging).
    pub fn none() -> Self {
        LogControl { handle: None }
    }

    /// Apply a new `log.level`, unless `RUST_LOG` overrides it.
    pub fn set_level(&self, level: &str) {
        if std::env::var_os("RUST_LOG").is_some() {
            return;
        }
        if let (Some(handle), Ok(filter)) = (&self.handle, EnvFilter::try_new(level)) {
            if let Err(e) = handle.reload(filter) {
                crate::ops::events::log_level_change_failed(level, &e.to_string());
            }
        }
    }
}

/// Install the global logger. `RUST_LOG` takes precedence over `log.level`.
pub fn init_logging(config: &LogConfig) -> anyhow::Result<LogControl> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) => EnvFilter::try_new(env)?,
        Err(_) => EnvFilter::try_new(&config.level)?,
    };
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    if config.format == "json" {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init()?;
    } else {
        // Colours only for a person at a terminal, never in files or journald.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(std::io::stderr),
            )
            .try_init()?;
    }
    Ok(LogControl {
        handle: Some(handle),
    })
}

/// Install the Prometheus recorder; the handle renders `/metrics`. The series it starts
/// with are created by [`crate::ops::events::register`].
pub fn init_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&[
            0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        ])?
        .install_recorder()?;
    Ok(handle)
}
