//! The service configuration: one TOML file (`--config`, default `config/arclamp.toml`)
//! with environment overrides (`ARCLAMP__REDIS__URL`, `ARCLAMP__PERIODS__HOURLY__RETAIN`).
//!
//! Loading is strict: unknown keys and bad values are errors that name the key, because a
//! typo that silently falls back to a default is worse than a refusal to start (or, on
//! SIGHUP, a refusal to reload while the old config keeps running).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::window::Period;

/// A config that could not be loaded, naming the key at fault where there is one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed, or a key has the wrong type.
    #[error("{0}")]
    Load(#[from] config::ConfigError),
    /// A key has a value arclamp cannot use.
    #[error("{key}: {message}")]
    Invalid {
        /// The dotted key (`periods.hourly.format`).
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

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

/// `[redis]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Pub/sub channels to subscribe to.
    pub channels: Vec<String>,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:6379".into(),
            channels: vec!["excimer".into()],
        }
    }
}

impl RedisConfig {
    /// The URL with any password replaced by `***`, for logs and `check-config`.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
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

/// A credential: shown as `***` by `Debug` and when the config is printed, so it never
/// reaches a log line or `check-config` output.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// A secret holding `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it to the server.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no value was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.0.is_empty() { "" } else { "***" })
    }
}

/// The secret from `value`, or from the file `file` names (trailing newline removed); the
/// error names whichever key is at fault. Setting both is an error, as is setting neither.
pub fn resolve_secret(
    key: &str,
    value: &Secret,
    file: Option<&Path>,
) -> Result<Secret, ConfigError> {
    match (value.is_empty(), file) {
        (false, Some(_)) => Err(invalid(
            format!("{key}_file"),
            format!("set either {key} or {key}_file, not both"),
        )),
        (false, None) => Ok(value.clone()),
        (true, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                invalid(
                    format!("{key}_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let text = text.trim_end_matches(['\n', '\r']);
            if text.is_empty() {
                return Err(invalid(
                    format!("{key}_file"),
                    format!("{} is empty", path.display()),
                ));
            }
            Ok(Secret::new(text))
        }
        (true, None) => Err(invalid(
            key,
            format!(
                "required: set it (e.g. from the environment, ARCLAMP__{}) or name a file with {key}_file",
                key.to_ascii_uppercase().replace('.', "__")
            ),
        )),
    }
}

/// Which storage backend `[storage]` selects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// Files under `storage.path`.
    #[default]
    Local,
    /// An S3-compatible bucket (`[storage.s3]`).
    S3,
    /// An OpenStack Swift container, native API (`[storage.swift]`).
    Swift,
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `local`, `s3` or `swift`.
    pub kind: StorageKind,
    /// Root directory of `logs/` and `svgs/` (`kind = "local"`).
    pub path: PathBuf,
    /// Prefix of every object name inside the bucket or container (object storage), e.g.
    /// `arclamp/`; empty for none.
    pub prefix: String,
    /// Longest time one object-storage operation may take, retries included.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Objects asked for per listing request (object storage); listings page through all.
    pub list_page_size: usize,
    /// `[storage.s3]`
    pub s3: S3Config,
    /// `[storage.swift]`
    pub swift: SwiftConfig,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            kind: StorageKind::Local,
            path: PathBuf::from("data"),
            prefix: String::new(),
            timeout: Duration::from_secs(30),
            list_page_size: 1000,
            s3: S3Config::default(),
            swift: SwiftConfig::default(),
        }
    }
}

/// `[storage.s3]`: any S3-compatible store (AWS, Ceph RGW, MinIO, Swift's S3 API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// `https://s3.example.org`; empty for AWS's own endpoint of `region`.
    pub endpoint: String,
    /// The bucket; created when missing.
    pub bucket: String,
    /// The region requests are signed for.
    pub region: String,
    /// Access key id (or `access_key_id_file`).
    pub access_key_id: Secret,
    /// File holding the access key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id_file: Option<PathBuf>,
    /// Secret access key (or `secret_access_key_file`).
    pub secret_access_key: Secret,
    /// File holding the secret access key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_access_key_file: Option<PathBuf>,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            endpoint: String::new(),
            bucket: String::new(),
            region: "us-east-1".into(),
            access_key_id: Secret::default(),
            access_key_id_file: None,
            secret_access_key: Secret::default(),
            secret_access_key_file: None,
        }
    }
}

/// `[storage.swift]`: OpenStack Swift's native API, with tempauth (v1) or Keystone v3.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SwiftConfig {
    /// `https://swift.example.org/auth/v1.0` (tempauth) or `https://keystone.example.org/v3`.
    pub auth_url: String,
    /// The container; created when missing.
    pub container: String,
    /// `account:user` for tempauth, the user name for Keystone.
    pub user: String,
    /// The password (or `key_file`).
    pub key: Secret,
    /// File holding the password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Keystone: the user's domain (`Default` when empty).
    pub user_domain: String,
    /// Keystone: the project to scope the token to.
    pub project: String,
    /// Keystone: the project's domain (`Default` when empty).
    pub project_domain: String,
    /// Keystone: the catalog region of the object-store endpoint (any when empty).
    pub region: String,
}

/// How a Swift token is obtained, read from `storage.swift.auth_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwiftAuthKind {
    /// tempauth / swauth: `GET .../auth/v1.0`.
    V1,
    /// Keystone identity v3: `POST .../v3/auth/tokens`.
    KeystoneV3,
}

impl SwiftConfig {
    /// Which auth protocol `auth_url` speaks.
    pub fn auth_kind(&self) -> Result<SwiftAuthKind, ConfigError> {
        let url = self.auth_url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(
                "storage.swift.auth_url",
                "required: an http:// or https:// URL ending in /auth/v1.0 (tempauth) or /v3 (Keystone)",
            ));
        }
        if url.ends_with("/v3") {
            Ok(SwiftAuthKind::KeystoneV3)
        } else if url.ends_with("/v1.0") || url.ends_with("/v1") {
            Ok(SwiftAuthKind::V1)
        } else {
            Err(invalid(
                "storage.swift.auth_url",
                format!("{url:?} must end in /auth/v1.0 (tempauth) or /v3 (Keystone)"),
            ))
        }
    }

    /// The password, from `key` or `key_file`.
    pub fn resolved_key(&self) -> Result<Secret, ConfigError> {
        resolve_secret("storage.swift.key", &self.key, self.key_file.as_deref())
    }
}

impl S3Config {
    /// The access key id, from `access_key_id` or `access_key_id_file`.
    pub fn resolved_access_key_id(&self) -> Result<Secret, ConfigError> {
        resolve_secret(
            "storage.s3.access_key_id",
            &self.access_key_id,
            self.access_key_id_file.as_deref(),
        )
    }

    /// The secret access key, from `secret_access_key` or `secret_access_key_file`.
    pub fn resolved_secret_access_key(&self) -> Result<Secret, ConfigError> {
        resolve_secret(
            "storage.s3.secret_access_key",
            &self.secret_access_key,
            self.secret_access_key_file.as_deref(),
        )
    }
}

impl StorageConfig {
    /// Check the keys the selected backend needs; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.prefix.is_empty() && crate::storage::check_path(&self.prefix, true).is_err() {
            return Err(invalid(
                "storage.prefix",
                format!(
                    "{:?} must be a relative path of letters, digits, '_', '.', '-' segments, e.g. \"arclamp/\"",
                    self.prefix
                ),
            ));
        }
        positive("storage.timeout", self.timeout)?;
        at_least_one("storage.list_page_size", self.list_page_size as u64)?;
        match self.kind {
            StorageKind::Local => {
                if self.path.as_os_str().is_empty() {
                    return Err(invalid("storage.path", "required for kind = \"local\""));
                }
            }
            StorageKind::S3 => {
                let s3 = &self.s3;
                if s3.bucket.is_empty() {
                    return Err(invalid("storage.s3.bucket", "required for kind = \"s3\""));
                }
                let endpoint = &s3.endpoint;
                if !(endpoint.is_empty()
                    || endpoint.starts_with("http://")
                    || endpoint.starts_with("https://"))
                {
                    return Err(invalid(
                        "storage.s3.endpoint",
                        "must be an http:// or https:// URL (or empty for AWS)",
                    ));
                }
                if s3.region.is_empty() {
                    return Err(invalid(
                        "storage.s3.region",
                        "required (e.g. \"us-east-1\")",
                    ));
                }
                s3.resolved_access_key_id()?;
                s3.resolved_secret_access_key()?;
            }
            StorageKind::Swift => {
                let swift = &self.swift;
                let kind = swift.auth_kind()?;
                if swift.container.is_empty() {
                    return Err(invalid(
                        "storage.swift.container",
                        "required for kind = \"swift\"",
                    ));
                }
                if swift.user.is_empty() {
                    return Err(invalid(
                        "storage.swift.user",
                        "required for kind = \"swift\"",
                    ));
                }
                if kind == SwiftAuthKind::KeystoneV3 && swift.project.is_empty() {
                    return Err(invalid(
                        "storage.swift.project",
                        "required with a Keystone v3 auth_url",
                    ));
                }
                swift.resolved_key()?;
            }
        }
        Ok(())
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

/// A period ready to use: its window arithmetic and retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodSpec {
    /// Window arithmetic.
    pub period: Period,
    /// Windows kept per channel and entry point.
    pub retain: usize,
    /// Optional age limit.
    pub max_age: Option<Duration>,
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
    /// The number of renderer threads to start.
    pub fn effective_workers(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        cpus.saturating_sub(1).max(1)
    }
}

/// `[[render.functions]]`: a graph of only the stacks containing one frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionGraph {
    /// The exact frame (`EditAction::show`).
    pub name: String,
    /// The name used in file names (`EditAction` gives `...all.fn-EditAction.svgz`).
    pub label: String,
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
            skip: crate::top::DEFAULT_SKIP
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }
}

/// `[on_demand]`: bounds on the work one request for a diff or range graph may cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnDemandConfig {
    /// Most windows one range graph may merge.
    pub max_range_windows: usize,
    /// Diff and range graphs rendered at the same time; further requests get 429.
    pub max_concurrent_renders: usize,
    /// Memory kept for rendered diff and range graphs (gzip'd), in MiB; 0 disables the cache.
    pub cache_megabytes: u64,
}

impl Default for OnDemandConfig {
    fn default() -> Self {
        OnDemandConfig {
            max_range_windows: 62,
            max_concurrent_renders: 2,
            cache_megabytes: 64,
        }
    }
}

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
        self.period_specs()?;
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
            crate::top::FramePattern::parse(pattern)
                .map_err(|message| invalid(format!("top.skip[{i}]"), message))?;
        }
        at_least_one(
            "on_demand.max_range_windows",
            self.on_demand.max_range_windows as u64,
        )?;
        at_least_one(
            "on_demand.max_concurrent_renders",
            self.on_demand.max_concurrent_renders as u64,
        )?;
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
    if !crate::layout::is_safe_name(name) {
        return Err(invalid(
            key,
            format!("{name:?} may only contain letters, digits, '_', '.' and '-'"),
        ));
    }
    Ok(())
}

fn positive(key: &str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(invalid(
            key,
            "must be longer than 0 (e.g. \"500ms\", \"60s\", \"10m\")",
        ));
    }
    Ok(())
}

fn at_least_one(key: &str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(invalid(key, "must be at least 1"));
    }
    Ok(())
}

/// Durations as humantime strings (`"100ms"`, `"60s"`, `"14d"`).
mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration such as \"500ms\", \"60s\" or \"14d\": {e}"
            ))
        })
    }
}

/// Optional durations (`max_age`), as [`duration`] when present.
mod opt_duration {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => super::duration::serialize(d, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(deserializer).map(Some)
    }
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
