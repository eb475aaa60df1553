//! The service configuration: one TOML file (`--config`, default `config/arclamp.toml`)
//! with environment overrides (`ARCLAMP__REDIS__URL`, `ARCLAMP__PERIODS__HOURLY__RETAIN`).
//!
//! Loading is strict: unknown keys and bad values are errors that name the key, because a
//! typo that silently falls back to a default is worse than a refusal to start (or, on
//! SIGHUP, a refusal to reload while the old config keeps running).
//!
//! A component's own table is typed next to its code (`[storage]` in
//! `store::storage::config`, `[log]` in `ops::telemetry`, ...) and re-exported here; this
//! module assembles them and checks the whole. It may import `graphs`, `store`, `ingest`
//! and `ops`, which never import it; `actors`, `http` and `cli` read it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::graphs::on_demand::OnDemandSettings;
use crate::graphs::window_graphs::RenderSettings;
use crate::ingest::sample::Limits;
use crate::ingest::window::Period;
use crate::ops::settings::{at_least_one, duration, invalid, opt_duration, positive};

// Each component owns the config types of its table; they are re-exported here so that the
// whole file's types are found in one place.
pub use crate::graphs::on_demand::OnDemandConfig;
pub use crate::graphs::window_graphs::FunctionGraph;
pub use crate::ops::settings::{resolve_secret, ConfigError, Secret};
pub use crate::ops::telemetry::LogConfig;
pub use crate::store::retention::PeriodSpec;
pub use crate::store::storage::config::{
    S3Config, StorageConfig, StorageKind, SwiftAuthKind, SwiftConfig,
};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where samples come from.
    #[serde(default)]
    pub redis: RedisConfig,
    /// Where logs and graphs are kept.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Periods by name (`hourly`, `daily`, ...). Defining the table replaces the defaults.
    #[serde(default = "default_periods")]
    pub periods: BTreeMap<String, PeriodConfig>,
    /// Parsing limits and checkpointing.
    #[serde(default)]
    pub aggregation: AggregationConfig,
    /// Flame-graph rendering.
    #[serde(default)]
    pub render: RenderConfig,
    /// How often retention runs.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Restart policy.
    #[serde(default)]
    pub supervisor: SupervisorConfig,
    /// Process lifecycle.
    #[serde(default)]
    pub service: ServiceConfig,
    /// The HTTP listener (metrics and health probes).
    #[serde(default)]
    pub http: HttpConfig,
    /// The leaderboard of functions on CPU (`/top`, `arclamp top`).
    #[serde(default)]
    pub top: TopConfig,
    /// Limits and cache of graphs rendered on request (diff and range graphs).
    #[serde(default)]
    pub on_demand: OnDemandConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// The clock (tests and demos only).
    #[serde(default)]
    pub clock: ClockConfig,
}

/// How samples arrive from Redis (`redis.source`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Pub/sub channels: what is published while nobody is subscribed is lost, and one
    /// instance may write at a time.
    #[default]
    Pubsub,
    /// Streams read through a consumer group: entries are acknowledged only once their
    /// samples are committed to the store, so any number of replicas may run and be killed.
    Stream,
    /// Pub/sub channels copied into streams: the writer-lease holder appends every message
    /// it receives to the stream named after its channel at once, and every replica
    /// aggregates the streams as in stream mode. Producers keep `PUBLISH`ing; only what is
    /// published while no instance is subscribed is lost.
    Bridge,
}

/// `[redis]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Pub/sub channels to subscribe to, or stream keys to read (stream mode).
    pub channels: Vec<String>,
    /// `pubsub`, `stream` or `bridge`.
    pub source: SourceKind,
    /// Stream mode: the consumer group every replica reads in.
    pub group: String,
    /// Stream mode: this process's consumer name; empty means host name plus process id, so
    /// two processes never share one.
    pub consumer: String,
    /// Stream mode: entries another consumer has held unacknowledged this long are claimed.
    #[serde(with = "duration")]
    pub claim_after: Duration,
    /// Stream mode: how often what arrived is committed to the store and acknowledged.
    #[serde(with = "duration")]
    pub commit_interval: Duration,
    /// Pub/sub mode: time to live of the writer lease (one instance counts and writes, the
    /// others stand by); `0s` turns the lease off (every instance writes: one at a time!).
    #[serde(with = "duration")]
    pub writer_lease: Duration,
    /// Bridge mode: each stream is capped near this many entries (`XADD MAXLEN ~`), so a
    /// long outage of every reader cannot fill Redis's memory; 0 for no cap.
    pub bridge_max_len: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:6379".into(),
            channels: vec!["excimer".into()],
            source: SourceKind::Pubsub,
            group: "arclamp".into(),
            consumer: String::new(),
            claim_after: Duration::from_secs(60),
            commit_interval: Duration::from_secs(30),
            writer_lease: Duration::from_secs(10),
            bridge_max_len: 1_000_000,
        }
    }
}

impl RedisConfig {
    /// Whether samples are aggregated from streams through the consumer group (stream and
    /// bridge modes): replicas then share the work and commit through the ledger.
    pub fn reads_streams(&self) -> bool {
        matches!(self.source, SourceKind::Stream | SourceKind::Bridge)
    }

    /// Whether this instance subscribes to the pub/sub channels (pub/sub and bridge modes).
    pub fn subscribes(&self) -> bool {
        matches!(self.source, SourceKind::Pubsub | SourceKind::Bridge)
    }

    /// The URL with any password replaced by `***`, for logs and `check-config`.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// The consumer name this process reads as: `consumer`, or `{host name}-{pid}` with
    /// any character outside `[A-Za-z0-9_.-]` replaced by `_`.
    pub fn consumer_name(&self) -> String {
        if !self.consumer.is_empty() {
            return self.consumer.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "arclamp".into());
        let host: String = host
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{host}-{}", std::process::id())
    }
}

/// Replace the password in a URL's userinfo with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or("", |(user, _)| user);
            let shown = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                "***".to_owned()
            };
            format!("{scheme}://{shown}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// `[periods.NAME]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodConfig {
    /// strftime format of window names (UTC). Defaults exist for `hourly` and `daily`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Windows kept per channel and entry point. Defaults exist for `hourly` and `daily`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain: Option<usize>,
    /// Windows that ended longer ago than this are deleted too.
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_age: Option<Duration>,
}

fn default_periods() -> BTreeMap<String, PeriodConfig> {
    ["hourly", "daily"]
        .into_iter()
        .map(|name| {
            (
                name.to_owned(),
                PeriodConfig {
                    format: None,
                    retain: None,
                    max_age: None,
                },
            )
        })
        .collect()
}

fn builtin_period(name: &str) -> Option<(&'static str, usize)> {
    match name {
        "hourly" => Some(("%Y-%m-%d_%H", 336)),
        "daily" => Some(("%Y-%m-%d", 730)),
        _ => None,
    }
}

/// `[aggregation]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AggregationConfig {
    /// How often every live window is checkpointed to storage.
    #[serde(with = "duration")]
    pub flush_interval: Duration,
    /// Stacks with more frames are rejected (`too_deep`).
    pub max_depth: usize,
    /// Messages larger than this are rejected (`too_large`).
    pub max_message_bytes: usize,
    /// Distinct entry points per channel; further ones count in `all` only.
    pub max_entry_points: usize,
    /// Keep every Nth message per channel.
    pub sample_every: u64,
}

impl Default for AggregationConfig {
    fn default() -> Self {
        AggregationConfig {
            flush_interval: Duration::from_secs(60),
            max_depth: 1000,
            max_message_bytes: 1 << 20,
            max_entry_points: 64,
            sample_every: 1,
        }
    }
}

impl AggregationConfig {
    /// The parse limits every sample is checked against.
    pub fn limits(&self) -> Limits {
        Limits {
            max_depth: self.max_depth,
            max_message_bytes: self.max_message_bytes,
        }
    }
}

/// `[render]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RenderConfig {
    /// Renderer threads; 0 means CPUs - 1, at least 1.
    pub workers: usize,
    /// A window's graphs are re-rendered at most this often while it is live.
    #[serde(with = "duration")]
    pub interval: Duration,
    /// Graph title prefix.
    pub title: String,
    /// Frames narrower than this many pixels (of 1200) are omitted.
    pub min_width: f64,
    /// Function-focused graphs rendered for entry point `all`.
    pub functions: Vec<FunctionGraph>,
}

impl Default for RenderConfig {
    fn default() -> Self {
        RenderConfig {
            workers: 0,
            interval: Duration::from_secs(60),
            title: "MediaWiki".into(),
            min_width: 0.1,
            functions: Vec::new(),
        }
    }
}

impl RenderConfig {
    /// The settings graphs are drawn with, changed live on reload; `skip` is `[top] skip`,
    /// which the function totals written with the graphs count by.
    pub fn settings(&self, skip: &[String]) -> RenderSettings {
        RenderSettings {
            title: self.title.clone(),
            min_width: self.min_width,
            functions: self.functions.clone(),
            skip: skip.to_vec(),
        }
    }

    /// The number of renderer threads to start.
    pub fn effective_workers(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        cpus.saturating_sub(1).max(1)
    }
}

/// `[retention]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// How often old windows are pruned.
    #[serde(with = "duration")]
    pub interval: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            interval: Duration::from_secs(600),
        }
    }
}

/// `[supervisor]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisorConfig {
    /// First restart delay of a failed actor.
    #[serde(with = "duration")]
    pub backoff_min: Duration,
    /// Longest restart delay.
    #[serde(with = "duration")]
    pub backoff_max: Duration,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// `[service]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// How long SIGTERM may take to checkpoint and finish queued renders.
    #[serde(with = "duration")]
    pub shutdown_timeout: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// `[http]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address of the HTTP listener (pages, files, API, `/metrics`, probes).
    pub listen: String,
    /// HTTP worker threads (each runs its own event loop; ingest has threads of its own).
    pub workers: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8080".into(),
            workers: 2,
        }
    }
}

/// `[top]`: which frames the leaderboard looks through to find the function on CPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopConfig {
    /// Leaf frames skipped (walking from the leaf towards the root) before the function on
    /// CPU is taken: exact frame names, or a prefix followed by `*`.
    pub skip: Vec<String>,
}

impl Default for TopConfig {
    fn default() -> Self {
        TopConfig {
            skip: crate::graphs::top::DEFAULT_SKIP
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }
}

/// `[clock]`: for tests and demos, a clock that starts at a given time and runs faster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockConfig {
    /// RFC 3339 start time; the real time when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// Clock seconds per real second.
    pub speed: f64,
}

/// Slowest `clock.speed`: a clock second per million real ones.
pub const MIN_CLOCK_SPEED: f64 = 1e-6;
/// Fastest `clock.speed`: a million clock seconds (11.6 days) per real second.
pub const MAX_CLOCK_SPEED: f64 = 1e6;

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            start: None,
            speed: 1.0,
        }
    }
}

impl Config {
    /// Read `path` and the `ARCLAMP__*` environment, then validate.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let raw = config::Config::builder()
            .add_source(
                config::File::from(path)
                    .format(config::FileFormat::Toml)
                    .required(true),
            )
            .add_source(
                config::Environment::with_prefix("ARCLAMP")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("redis.channels")
                    .with_list_parse_key("top.skip"),
            )
            .build()?;
        let config: Config = raw.try_deserialize()?;
        config.validate()?;
        Ok(config)
    }

    /// Parse a TOML string without the environment (tests and tools).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let raw = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()?;
        let config: Config = raw.try_deserialize()?;
        config.validate()?;
        Ok(config)
    }

    /// Check every value; the error names the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.redis.url;
        if !(url.starts_with("redis://")
            || url.starts_with("rediss://")
            || url.starts_with("unix://"))
        {
            return Err(invalid(
                "redis.url",
                "must start with redis://, rediss:// or unix://",
            ));
        }
        if url.starts_with("rediss://") {
            return Err(invalid(
                "redis.url",
                "rediss:// (TLS) is not supported by this build: reach Redis over a private \
                 network with redis://, or through a local TLS proxy such as stunnel",
            ));
        }
        redis::Client::open(url.as_str())
            .map_err(|e| invalid("redis.url", format!("not a valid Redis URL: {e}")))?;
        if self.redis.channels.is_empty() {
            return Err(invalid("redis.channels", "list at least one channel"));
        }
        for (i, channel) in self.redis.channels.iter().enumerate() {
            check_name(&format!("redis.channels[{i}]"), channel)?;
            if self.redis.channels[..i].contains(channel) {
                return Err(invalid(
                    format!("redis.channels[{i}]"),
                    format!("{channel:?} is listed twice"),
                ));
            }
        }
        if self.periods.is_empty() {
            return Err(invalid("periods", "define at least one period"));
        }
        let specs = self.period_specs()?;
        if self.redis.reads_streams() {
            self.validate_stream_mode(&specs)?;
        }
        if self.redis.source == SourceKind::Bridge && self.redis.writer_lease.is_zero() {
            return Err(invalid(
                "redis.writer_lease",
                "bridge mode needs a writer lease (e.g. \"10s\"): without one every instance \
                 would append each message to the stream again",
            ));
        }
        let a = &self.aggregation;
        positive("aggregation.flush_interval", a.flush_interval)?;
        at_least_one("aggregation.max_depth", a.max_depth as u64)?;
        at_least_one("aggregation.max_message_bytes", a.max_message_bytes as u64)?;
        at_least_one("aggregation.sample_every", a.sample_every)?;
        positive("render.interval", self.render.interval)?;
        if !(self.render.min_width.is_finite() && self.render.min_width >= 0.0) {
            return Err(invalid(
                "render.min_width",
                "must be a number of pixels, 0 or more",
            ));
        }
        for (i, function) in self.render.functions.iter().enumerate() {
            if function.name.is_empty()
                || !function
                    .name
                    .bytes()
                    .all(|b| (0x20..0x7f).contains(&b) && b != b';')
            {
                return Err(invalid(
                    format!("render.functions[{i}].name"),
                    "must be one frame: printable ASCII without ';'",
                ));
            }
            check_name(&format!("render.functions[{i}].label"), &function.label)?;
            if self.render.functions[..i]
                .iter()
                .any(|f| f.label == function.label)
            {
                return Err(invalid(
                    format!("render.functions[{i}].label"),
                    "labels must be unique",
                ));
            }
        }
        positive("retention.interval", self.retention.interval)?;
        for (i, pattern) in self.top.skip.iter().enumerate() {
            crate::graphs::top::FramePattern::parse(pattern)
                .map_err(|message| invalid(format!("top.skip[{i}]"), message))?;
        }
        at_least_one(
            "on_demand.max_range_windows",
            self.on_demand.max_range_windows as u64,
        )?;
        at_least_one(
            "on_demand.max_range_span",
            self.on_demand.max_range_span as u64,
        )?;
        at_least_one(
            "on_demand.max_concurrent_renders",
            self.on_demand.max_concurrent_renders as u64,
        )?;
        positive("on_demand.queue_timeout", self.on_demand.queue_timeout)?;
        positive("supervisor.backoff_min", self.supervisor.backoff_min)?;
        if self.supervisor.backoff_max < self.supervisor.backoff_min {
            return Err(invalid(
                "supervisor.backoff_max",
                "must not be shorter than supervisor.backoff_min",
            ));
        }
        positive("service.shutdown_timeout", self.service.shutdown_timeout)?;
        at_least_one("http.workers", self.http.workers as u64)?;
        self.storage.validate()?;
        self.http.listen.parse::<SocketAddr>().map_err(|e| {
            invalid(
                "http.listen",
                format!("not a host:port socket address: {e}"),
            )
        })?;
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", "must be \"text\" or \"json\""));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| invalid("log.level", e.to_string()))?;
        if !(MIN_CLOCK_SPEED..=MAX_CLOCK_SPEED).contains(&self.clock.speed) {
            return Err(invalid(
                "clock.speed",
                format!("must be between {MIN_CLOCK_SPEED} and {MAX_CLOCK_SPEED} (1 is real time)"),
            ));
        }
        Ok(())
    }

    /// The periods with their window arithmetic, defaults filled in.
    pub fn period_specs(&self) -> Result<Vec<PeriodSpec>, ConfigError> {
        self.periods
            .iter()
            .map(|(name, p)| {
                check_name(&format!("periods.{name}"), name)?;
                let builtin = builtin_period(name);
                let format = p
                    .format
                    .as_deref()
                    .or(builtin.map(|b| b.0))
                    .ok_or_else(|| {
                        invalid(
                            format!("periods.{name}.format"),
                            "required (a strftime format such as %Y-%m-%d)",
                        )
                    })?;
                let period = Period::new(name, format)
                    .map_err(|e| invalid(format!("periods.{name}.format"), e.to_string()))?;
                let retain = p.retain.or(builtin.map(|b| b.1)).ok_or_else(|| {
                    invalid(
                        format!("periods.{name}.retain"),
                        "required (number of windows to keep)",
                    )
                })?;
                if retain == 0 {
                    return Err(invalid(
                        format!("periods.{name}.retain"),
                        "must keep at least 1 window",
                    ));
                }
                Ok(PeriodSpec {
                    period,
                    retain,
                    max_age: p.max_age,
                })
            })
            .collect()
    }

    /// Stream mode counts each entry in the hour of its id and builds every other window
    /// from whole hours: an `hourly` period of one-hour windows is needed, and every period's
    /// windows must start and end on the hour.
    fn validate_stream_mode(&self, specs: &[PeriodSpec]) -> Result<(), ConfigError> {
        let r = &self.redis;
        check_name("redis.group", &r.group)?;
        if !r.consumer.is_empty() {
            check_name("redis.consumer", &r.consumer)?;
        }
        positive("redis.commit_interval", r.commit_interval)?;
        if r.claim_after < r.commit_interval * 2 {
            return Err(invalid(
                "redis.claim_after",
                "must be at least twice redis.commit_interval (a live replica's entries must \
                 not be claimed between two of its commits)",
            ));
        }
        let hour = chrono::Duration::hours(1);
        let Some(hourly) = crate::store::retention::hourly(specs) else {
            return Err(invalid(
                "periods.hourly",
                "stream mode (redis.source = \"stream\") needs an hourly period",
            ));
        };
        // A few instants across a year are enough to tell a format's window length.
        let probes = (0..12).map(|i| {
            DateTime::<Utc>::from_timestamp(1_767_225_600 + i * 2_629_800 + i * 4_000, 0)
                .unwrap_or_default()
        });
        let mut longest_hours = 1;
        for t in probes {
            let w = hourly.period.window_at(t);
            if w.end - w.start != hour {
                return Err(invalid(
                    "periods.hourly.format",
                    "stream mode needs hourly windows of exactly one hour",
                ));
            }
            for spec in specs {
                let w = spec.period.window_at(t);
                let whole_hours = w.start.timestamp() % 3600 == 0 && w.end.timestamp() % 3600 == 0;
                longest_hours = longest_hours.max((w.end - w.start).num_hours());
                if !whole_hours || w.end - w.start < hour {
                    return Err(invalid(
                        format!("periods.{}.format", spec.period.name()),
                        "stream mode builds windows from whole hours: every window must start \
                         and end on the hour",
                    ));
                }
            }
        }
        let needed = usize::try_from(longest_hours + 24).unwrap_or(usize::MAX);
        if hourly.retain < needed {
            return Err(invalid(
                "periods.hourly.retain",
                format!(
                    "stream mode builds longer windows from the hourly logs: keep at least \
                     {needed} (the longest window's hours, plus a day)"
                ),
            ));
        }
        Ok(())
    }

    /// What the on-demand graphs and leaderboards ([`crate::graphs::on_demand::OnDemand`])
    /// are built from.
    pub fn on_demand_settings(&self) -> Result<OnDemandSettings, ConfigError> {
        Ok(OnDemandSettings {
            periods: self.period_specs()?.into_iter().map(|s| s.period).collect(),
            skip: self.top.skip.clone(),
            limits: self.on_demand.clone(),
            title: self.render.title.clone(),
            min_width: self.render.min_width,
        })
    }

    /// How entry points' logs and graphs are derived from `all` on read.
    pub fn derived_settings(&self) -> Result<crate::graphs::derived::DerivedSettings, ConfigError> {
        Ok(crate::graphs::derived::DerivedSettings {
            periods: self.period_specs()?.into_iter().map(|s| s.period).collect(),
            render: self.render.settings(&self.top.skip),
            max_concurrent_renders: self.on_demand.max_concurrent_renders,
        })
    }

    /// How readers see stream mode's windows not sealed yet; `None` in pub/sub mode (its
    /// live windows are checkpointed to the store).
    pub fn live_settings(&self) -> Result<Option<crate::graphs::live::LiveSettings>, ConfigError> {
        if !self.redis.reads_streams() {
            return Ok(None);
        }
        Ok(Some(crate::graphs::live::LiveSettings {
            url: self.redis.url.clone(),
            group: self.redis.group.clone(),
            channels: self.redis.channels.clone(),
            periods: self.period_specs()?,
            max_entry_points: self.aggregation.max_entry_points,
            render: self.render.settings(&self.top.skip),
            // As fresh as pub/sub mode's checkpoints.
            refresh: self.aggregation.flush_interval,
        }))
    }

    /// The effective config as TOML, with secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.redis.url = self.redis.redacted_url();
        for (name, p) in shown.periods.iter_mut() {
            if let Some((format, retain)) = builtin_period(name) {
                p.format.get_or_insert_with(|| format.to_owned());
                p.retain.get_or_insert(retain);
            }
        }
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot print the config: {e}\n"))
    }
}

/// Names that end up in file names and URLs: `[A-Za-z0-9_.-]`, not `.` or `..`.
pub fn check_name(key: &str, name: &str) -> Result<(), ConfigError> {
    if !crate::store::layout::is_safe_name(name) {
        return Err(invalid(
            key,
            format!("{name:?} may only contain letters, digits, '_', '.' and '-'"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(toml: &str) -> String {
        Config::from_toml(toml).unwrap_err().to_string()
    }

    #[test]
    fn an_empty_file_gives_the_documented_defaults() {
        let config = Config::from_toml("").unwrap();
        assert_eq!(config.redis.channels, vec!["excimer"]);
        let specs = config.period_specs().unwrap();
        let names: Vec<(&str, &str, usize)> = specs
            .iter()
            .map(|s| (s.period.name(), s.period.format(), s.retain))
            .collect();
        assert_eq!(
            names,
            vec![("daily", "%Y-%m-%d", 730), ("hourly", "%Y-%m-%d_%H", 336)]
        );
        assert_eq!(config.aggregation.flush_interval, Duration::from_secs(60));
        assert_eq!(config.supervisor.backoff_min, Duration::from_millis(100));
    }

    #[test]
    fn the_shipped_config_file_is_valid_and_matches_the_defaults() {
        let shipped = Config::from_toml(include_str!("../config/arclamp.toml")).unwrap();
        let mut defaults = Config::from_toml("").unwrap();
        defaults.periods = shipped.periods.clone();
        assert_eq!(
            shipped.period_specs().unwrap(),
            Config::from_toml("").unwrap().period_specs().unwrap()
        );
        assert_eq!(shipped, defaults);
    }

    #[test]
    fn defining_periods_replaces_the_default_ones() {
        let config = Config::from_toml(
            "[periods.minutely]\nformat = \"%Y-%m-%dT%H%M\"\nretain = 5\nmax_age = \"1h\"",
        )
        .unwrap();
        let specs = config.period_specs().unwrap();
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].max_age, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn tls_urls_are_refused_with_what_to_do_instead() {
        let error = error_of("[redis]\nurl = \"rediss://redis.example.org:6380\"\n");
        assert!(
            error.starts_with("redis.url: rediss:// (TLS) is not supported"),
            "{error}"
        );
        assert!(error.contains("stunnel"), "{error}");
    }

    #[test]
    fn stream_mode_needs_whole_hours_and_claims_slower_than_commits() {
        let stream = "[redis]\nsource = \"stream\"\n";
        assert!(Config::from_toml(stream).is_ok());
        let error = error_of(&format!(
            "{stream}[periods.minutely]\nformat = \"%Y-%m-%d_%H%M\"\nretain = 60\n\
             [periods.hourly]\nformat = \"%Y-%m-%d_%H\"\nretain = 336\n"
        ));
        assert!(error.starts_with("periods.minutely.format"), "{error}");
        let error = error_of(&format!(
            "{stream}[periods.daily]\nformat = \"%Y-%m-%d\"\nretain = 7\n"
        ));
        assert!(error.starts_with("periods.hourly"), "{error}");
        let error = error_of(&format!(
            "{stream}claim_after = \"10s\"\ncommit_interval = \"30s\"\n"
        ));
        assert!(error.starts_with("redis.claim_after"), "{error}");
        let error = error_of(&format!(
            "{stream}[periods.hourly]\nformat = \"%Y-%m-%d_%H\"\nretain = 24\n\
             [periods.daily]\nformat = \"%Y-%m-%d\"\nretain = 7\n"
        ));
        assert!(error.starts_with("periods.hourly.retain"), "{error}");
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        assert!(
            error_of("[redis]\nurll = \"x\"").contains("urll"),
            "{}",
            error_of("[redis]\nurll = \"x\"")
        );
        assert!(error_of("[nope]\nx = 1").contains("nope"));
    }

    #[test]
    fn bad_values_name_their_key() {
        assert!(error_of("[redis]\nchannels = [\"ex/../cimer\"]").starts_with("redis.channels[0]:"));
        assert!(error_of("[redis]\nurl = \"http://x\"").starts_with("redis.url:"));
        assert!(
            error_of("[periods.hourly]\nformat = \"%Y/%m\"").starts_with("periods.hourly.format:")
        );
        assert!(error_of("[periods.weekly]\nretain = 3").starts_with("periods.weekly.format:"));
        assert!(error_of("[aggregation]\nflush_interval = \"0s\"")
            .starts_with("aggregation.flush_interval:"));
        assert!(error_of("[aggregation]\nflush_interval = \"soon\"").contains("soon"));
        assert!(
            error_of("[supervisor]\nbackoff_min = \"10s\"\nbackoff_max = \"1s\"")
                .starts_with("supervisor.backoff_max:")
        );
        assert!(
            error_of("[[render.functions]]\nname = \"A::b\"\nlabel = \"a/b\"")
                .starts_with("render.functions[0].label:")
        );
        assert!(error_of("[log]\nformat = \"xml\"").starts_with("log.format:"));
        assert!(error_of("[http]\nlisten = \"nowhere\"").starts_with("http.listen:"));
        for speed in ["0.0", "-1.0", "1e300", "1e-300", "nan"] {
            assert!(
                error_of(&format!("[clock]\nspeed = {speed}")).starts_with("clock.speed:"),
                "{speed}"
            );
        }
    }

    #[test]
    fn object_storage_keys_are_checked_and_named() {
        assert!(error_of("[storage]\nkind = \"s3\"").starts_with("storage.s3.bucket:"));
        assert!(error_of("[storage]\nkind = \"ceph\"").contains("ceph"));
        assert!(
            error_of("[storage]\nkind = \"s3\"\n[storage.s3]\nbucket = \"b\"")
                .starts_with("storage.s3.access_key_id:")
        );
        assert!(error_of("[storage]\nprefix = \"../x\"").starts_with("storage.prefix:"));
        let swift =
            "[storage]\nkind = \"swift\"\n[storage.swift]\ncontainer = \"c\"\nuser = \"t:t\"\n";
        assert!(error_of(swift).starts_with("storage.swift.auth_url:"));
        let v1 = format!("{swift}auth_url = \"http://127.0.0.1:1/auth/v1.0\"\n");
        let missing_key = error_of(&v1);
        assert!(
            missing_key.starts_with("storage.swift.key:"),
            "{missing_key}"
        );
        assert!(
            missing_key.contains("ARCLAMP__STORAGE__SWIFT__KEY"),
            "{missing_key}"
        );
        assert!(
            error_of(&format!("{v1}key = \"k\"\nkey_file = \"/nonexistent\"\n"))
                .starts_with("storage.swift.key_file:")
        );
        assert!(error_of(&format!("{v1}key_file = \"/nonexistent/key\"\n"))
            .starts_with("storage.swift.key_file:"));
        let v3 = format!("{swift}auth_url = \"https://keystone.example.org/v3\"\nkey = \"k\"\n");
        assert!(error_of(&v3).starts_with("storage.swift.project:"));
        assert!(Config::from_toml(&format!("{v3}project = \"p\"\n")).is_ok());
        assert!(error_of(&format!(
            "{swift}auth_url = \"http://x/auth\"\nkey = \"k\"\n"
        ))
        .starts_with("storage.swift.auth_url:"));
    }

    #[test]
    fn secrets_come_from_files_and_never_show() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key");
        std::fs::write(&key_file, "from-the-file\n").unwrap();
        let config = Config::from_toml(&format!(
            "[storage]\nkind = \"swift\"\n[storage.swift]\nauth_url = \"http://127.0.0.1:1/auth/v1.0\"\n\
             container = \"c\"\nuser = \"t:t\"\nkey_file = \"{}\"\n\
             [storage.s3]\nsecret_access_key = \"s3-very-secret\"\n",
            key_file.display()
        ))
        .unwrap();
        assert_eq!(
            config.storage.swift.resolved_key().unwrap().expose(),
            "from-the-file"
        );
        let printed = config.to_redacted_toml();
        assert!(!printed.contains("s3-very-secret"), "{printed}");
        assert!(printed.contains("secret_access_key = \"***\""), "{printed}");
        assert!(printed.contains(&key_file.display().to_string()));
        assert!(!format!("{config:?}").contains("s3-very-secret"));
    }

    #[test]
    fn passwords_never_appear_in_the_printed_config() {
        let config =
            Config::from_toml("[redis]\nurl = \"redis://arc:s3cret@10.0.0.1:6379/0\"").unwrap();
        let printed = config.to_redacted_toml();
        assert!(!printed.contains("s3cret"));
        assert!(printed.contains("redis://arc:***@10.0.0.1:6379/0"));
        assert_eq!(redact_url("redis://:pw@h:1"), "redis://:***@h:1");
        assert_eq!(redact_url("redis://h:1"), "redis://h:1");
    }
}
