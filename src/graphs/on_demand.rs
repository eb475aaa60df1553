//! Work done when someone asks: range graphs (many windows merged), differential graphs
//! (two windows compared) and leaderboards, all read from stored trace logs through the
//! [`Storage`] trait. The HTTP handlers and `arclamp top` both call this module, so a page
//! and the CLI show the same numbers.
//!
//! Every request is bounded: a range spans at most `on_demand.max_range_span` windows and
//! reads at most `on_demand.max_range_windows` of them on their own (the rest from roll-ups),
//! at most `on_demand.max_concurrent_renders` graphs or leaderboards are computed at once
//! (further requests are refused with [`OnDemandError::Busy`] rather than queued), and
//! rendered graphs are cached in memory ([`crate::graphs::graph_cache`]) until an input changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::graphs::export::ExportFormat;
use crate::graphs::graph_cache::{self, GraphCache};
use crate::graphs::range::{self, RangeError, RangeInput};
use crate::graphs::range_summary::{self, RangeSummary};
use crate::graphs::render::{self, DiffMode, GraphOptions, RenderError};
use crate::graphs::rollup;
use crate::graphs::top::{self, Leaderboard, Query, Skip};
use crate::graphs::trend::{FunctionTotals, Point};
use crate::ingest::window::{Period, Window};
use crate::ops::settings::{invalid, ConfigError};
use crate::store::catalogue;
use crate::store::layout::{self, LogKey};
use crate::store::storage::{ObjectInfo, Storage, StorageError};

/// `[on_demand]`: bounds on the work one request for a diff or range graph may cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnDemandConfig {
    /// Most windows one range graph reads on its own (from the window's summary or log);
    /// longer ranges read the roll-ups of whole blocks of windows.
    pub max_range_windows: usize,
    /// Most windows one range may span (read from roll-ups or on their own).
    pub max_range_span: usize,
    /// Diff and range graphs and leaderboards computed at the same time.
    pub max_concurrent_renders: usize,
    /// Requests that wait (at most `queue_timeout`) for one of those; further ones get 503
    /// with `Retry-After` at once, so a burst costs bounded memory.
    pub max_queued: usize,
    /// Longest a queued request waits before it gets 503.
    #[serde(with = "crate::ops::settings::duration")]
    pub queue_timeout: std::time::Duration,
    /// Memory kept for rendered diff and range graphs (gzip'd), in MiB; 0 disables the cache.
    pub cache_megabytes: u64,
}

impl Default for OnDemandConfig {
    fn default() -> Self {
        OnDemandConfig {
            max_range_windows: 62,
            max_range_span: 1_500,
            max_concurrent_renders: 2,
            max_queued: 8,
            queue_timeout: std::time::Duration::from_secs(10),
            cache_megabytes: 64,
        }
    }
}

/// Why a request could not be answered; [`OnDemandError::status`] is its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum OnDemandError {
    /// A parameter is missing or malformed.
    #[error("{0}")]
    BadRequest(String),
    /// A range that cannot be served.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// A leaderboard query out of bounds.
    #[error(transparent)]
    Query(#[from] top::QueryError),
    /// No such log.
    #[error("{0}")]
    NotFound(String),
    /// Too many graphs being computed and waiting already.
    #[error("{limit} graphs are being computed and {queued} more wait already (on_demand.max_concurrent_renders, on_demand.max_queued): retry in a few seconds")]
    Busy {
        /// The limit.
        limit: usize,
        /// The queue's length.
        queued: usize,
    },
    /// Storage failed.
    #[error("storage unavailable: {0}")]
    Storage(#[from] StorageError),
    /// A stored log is not a readable trace log.
    #[error("{path} is not a readable trace log: {error}")]
    Corrupt {
        /// The log.
        path: String,
        /// What failed.
        error: String,
    },
    /// The graph could not be drawn.
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl OnDemandError {
    /// The HTTP status that fits.
    pub fn status(&self) -> u16 {
        match self {
            OnDemandError::BadRequest(_) | OnDemandError::Range(_) | OnDemandError::Query(_) => 400,
            OnDemandError::NotFound(_) => 404,
            OnDemandError::Busy { .. } => 503,
            OnDemandError::Storage(_) => 503,
            OnDemandError::Corrupt { .. } => 500,
            OnDemandError::Render(RenderError::NoStacks) => 404,
            OnDemandError::Render(_) => 500,
        }
    }

    /// Why this failure is the service's own (the reason label of
    /// [`crate::ops::events::on_demand_failed`]): `damaged_log` for a stored log that cannot be
    /// read, `render` for inferno failing; `None` for the client's errors and for
    /// storage outages (counted by the storage itself).
    pub fn service_fault(&self) -> Option<&'static str> {
        match self {
            OnDemandError::Corrupt { .. } => Some("damaged_log"),
            OnDemandError::Render(RenderError::NoStacks) => None,
            OnDemandError::Render(_) => Some("render"),
            OnDemandError::BadRequest(_)
            | OnDemandError::Range(_)
            | OnDemandError::Query(_)
            | OnDemandError::NotFound(_)
            | OnDemandError::Busy { .. }
            | OnDemandError::Storage(_) => None,
        }
    }

    /// Log and count this failure (of a `kind` request, one of
    /// [`crate::ops::events::ON_DEMAND_KINDS`]) when it is the service's own; the client's
    /// errors are only answered.
    pub fn report(&self, kind: &'static str) {
        if let Some(reason) = self.service_fault() {
            crate::ops::events::on_demand_failed(kind, reason, &self.to_string());
        }
    }
}

/// One series of windows: period, channel and entry point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// Period name.
    pub period: String,
    /// Redis channel.
    pub channel: String,
    /// Entry point (`all` for every sample).
    pub entry: String,
}

impl Series {
    /// Check a series given by a user; the error names the bad parameter.
    pub fn new(period: &str, channel: &str, entry: &str) -> Result<Series, OnDemandError> {
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 200
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        };
        let word_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 200
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        if !name_ok(period) {
            return Err(OnDemandError::BadRequest(format!(
                "period={period:?} is not a period name"
            )));
        }
        if !name_ok(channel) {
            return Err(OnDemandError::BadRequest(format!(
                "channel={channel:?}: a channel is letters, digits, '_', '.' and '-'"
            )));
        }
        if !word_ok(entry) {
            return Err(OnDemandError::BadRequest(format!(
                "entry={entry:?}: an entry point is letters, digits and '_' (e.g. all, index)"
            )));
        }
        Ok(Series {
            period: period.to_owned(),
            channel: channel.to_owned(),
            entry: entry.to_owned(),
        })
    }

    /// The log of `window` in this series.
    pub fn key(&self, window: &str) -> LogKey {
        LogKey {
            period: self.period.clone(),
            window: window.to_owned(),
            channel: self.channel.clone(),
            entry: self.entry.clone(),
        }
    }
}

/// A rendered graph.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The gzip'd SVG.
    pub svgz: Bytes,
    /// A strong validator: the cache key (changes whenever an input changes).
    pub etag: String,
    /// Served from the cache.
    pub from_cache: bool,
    /// Windows that had a log (a range may have gaps).
    pub windows: Vec<String>,
    /// For a range graph just rendered: how many windows were read from their range
    /// summary or a roll-up rather than their log.
    pub summaries: Option<usize>,
    /// For a range graph just rendered: how many windows were read from roll-ups.
    pub rolled_up: Option<usize>,
}

/// A function's share of each window's samples over a span of windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// Period name.
    pub period: String,
    /// Channel.
    pub channel: String,
    /// Entry point.
    pub entry: String,
    /// The function (a leaf frame, as the leaderboard names it).
    pub function: String,
    /// First window asked for.
    pub from: String,
    /// Last window asked for.
    pub to: String,
    /// Windows with a log but no usable function totals (rendered before totals existed,
    /// or not rendered yet): their points have no value.
    pub without_totals: usize,
    /// One point per window with a log, oldest first.
    pub points: Vec<Point>,
}

/// The files of a range's windows, and the roll-ups that may stand for blocks of them.
struct RangeFiles {
    /// One per window of the range, in order.
    windows: Vec<WindowFiles>,
    /// Roll-ups found: (first window, block size) -> (object, fingerprint of its sources).
    rollups: HashMap<(String, usize), (ObjectInfo, u64)>,
}

impl RangeFiles {
    /// `windows` with no files found yet.
    fn empty(windows: &[Window]) -> RangeFiles {
        RangeFiles {
            windows: windows
                .iter()
                .map(|w| WindowFiles {
                    window: w.name.clone(),
                    log: None,
                    summary: None,
                    totals: None,
                })
                .collect(),
            rollups: HashMap::new(),
        }
    }
}

/// One window's log and its current companions (not older than the log), where they
/// exist.
struct WindowFiles {
    window: String,
    log: Option<ObjectInfo>,
    /// Its range summary.
    summary: Option<ObjectInfo>,
    /// Its function totals (found by listings only).
    totals: Option<ObjectInfo>,
}

/// What a decoded summary of a range is expected to be.
enum Expect {
    /// The roll-up of the block at (first window, size).
    Rollup(usize, usize),
    /// A roll-up that was listed but is gone: its block is read window by window.
    Missing(usize, usize),
    /// The range summary of this log.
    Summary(ObjectInfo),
}

/// A profile exported in another tool's format.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The file's bytes.
    pub bytes: Bytes,
    /// A strong validator: the cache key (changes whenever a log changes).
    pub etag: String,
}

/// A leaderboard with what it was computed for: what `/api/top` answers and
/// `arclamp top --json` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TopReport {
    /// Period name.
    pub period: String,
    /// Window name.
    pub window: String,
    /// Channel.
    pub channel: String,
    /// Entry point.
    pub entry: String,
    /// The expression rows were filtered with.
    pub grep: Option<String>,
    /// The leaderboard.
    #[serde(flatten)]
    pub board: Leaderboard,
}

/// What [`OnDemand`] is built from: the parts of the config it reads.
#[derive(Debug, Clone)]
pub struct OnDemandSettings {
    /// The configured periods.
    pub periods: Vec<Period>,
    /// `[top] skip`: leaf frames the leaderboard looks through.
    pub skip: Vec<String>,
    /// `[on_demand]`.
    pub limits: OnDemandConfig,
    /// `render.title`.
    pub title: String,
    /// `render.min_width`.
    pub min_width: f64,
}

/// The service answering on-demand requests.
pub struct OnDemand {
    storage: Arc<dyn Storage>,
    periods: Vec<Period>,
    limits: OnDemandConfig,
    title: String,
    min_width: f64,
    skip: Skip,
    cache: Mutex<GraphCache>,
    permits: Arc<Semaphore>,
    /// Places in the queue for a permit.
    queue: Arc<Semaphore>,
}

impl OnDemand {
    /// The service for `settings` (from the config: `Config::on_demand_settings`),
    /// reading `storage`.
    pub fn new(
        settings: OnDemandSettings,
        storage: Arc<dyn Storage>,
    ) -> Result<OnDemand, ConfigError> {
        let skip = Skip::parse(&settings.skip).map_err(|message| invalid("top.skip", message))?;
        let limits = settings.limits;
        let budget =
            usize::try_from(limits.cache_megabytes.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        Ok(OnDemand {
            storage,
            periods: settings.periods,
            permits: Arc::new(Semaphore::new(limits.max_concurrent_renders)),
            queue: Arc::new(Semaphore::new(limits.max_queued)),
            limits,
            title: settings.title,
            min_width: settings.min_width,
            skip,
            cache: Mutex::new(GraphCache::new(budget)),
        })
    }

    /// Most windows one range may span (`on_demand.max_range_span`).
    pub fn max_range_span(&self) -> usize {
        self.limits.max_range_span
    }

    /// The configured period named `name`.
    pub fn period(&self, name: &str) -> Result<&Period, OnDemandError> {
        self.periods
            .iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.periods.iter().map(Period::name).collect();
                OnDemandError::NotFound(format!(
                    "no period {name:?}; configured periods: {}",
                    known.join(", ")
                ))
            })
    }

    fn window_of(
        &self,
        period: &Period,
        which: &str,
        name: &str,
    ) -> Result<chrono::DateTime<chrono::Utc>, OnDemandError> {
        period.window_named(name).map(|w| w.start).ok_or_else(|| {
            OnDemandError::BadRequest(format!(
                "{which}={name:?} is not a {} window name (format {})",
                period.name(),
                period.format()
            ))
        })
    }

    /// Windows `a` and `b` of `series` (the `a=` and `b=` of a diff), the earlier first.
    fn in_time_order<'w>(
        &self,
        series: &Series,
        a: &'w str,
        b: &'w str,
    ) -> Result<(&'w str, &'w str), OnDemandError> {
        let period = self.period(&series.period)?;
        let start_a = self.window_of(period, "a", a)?;
        let start_b = self.window_of(period, "b", b)?;
        Ok(if start_b < start_a { (b, a) } else { (a, b) })
    }

    /// A permit to compute, waiting in the bounded queue for one if all are taken.
    async fn permit(&self) -> Result<OwnedSemaphorePermit, OnDemandError> {
        let busy = || OnDemandError::Busy {
            limit: self.limits.max_concurrent_renders,
            queued: self.limits.max_queued,
        };
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let _place = self.queue.clone().try_acquire_owned().map_err(|_| busy())?;
        tokio::time::timeout(
            self.limits.queue_timeout,
            self.permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())
    }

    fn cached(&self, key: &str) -> Option<Bytes> {
        self.cache.lock().ok()?.get(key)
    }

    fn remember(&self, key: &str, svgz: &Bytes) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key.to_owned(), svgz.clone());
        }
    }

    async fn read(&self, info: &ObjectInfo) -> Result<Bytes, OnDemandError> {
        self.storage.get(&info.path).await?.ok_or_else(|| {
            OnDemandError::NotFound(format!("{} was deleted while being read: retry", info.path))
        })
    }

    /// One graph of windows `from..=to` merged: from roll-ups of whole blocks of windows
    /// (long ranges, see [`crate::graphs::rollup`]), from each other window's range summary
    /// when it has one made from its current log (see [`crate::graphs::range_summary`] for
    /// the error bound), else from its log. At most `on_demand.max_range_windows` windows
    /// are read on their own.
    ///
    /// `icicle` draws the root at the top; a range of one window is that window's graph,
    /// which is how the view page offers a stored window as an icicle graph.
    pub async fn range(
        &self,
        series: &Series,
        from: &str,
        to: &str,
        reversed: bool,
        icicle: bool,
    ) -> Result<Rendered, OnDemandError> {
        let period = self.period(&series.period)?;
        let windows = range::windows_between(period, from, to, self.limits.max_range_span)?;
        let files = self.range_files(series, &windows).await?;
        let logs_of = |block: &[WindowFiles]| {
            rollup::fingerprint(
                block
                    .iter()
                    .filter_map(|f| f.log.as_ref().map(|log| (f.window.as_str(), log.size))),
            )
        };
        let pieces = rollup::cover(period, &windows, |first, size| {
            let block = &files.windows[first..first + size];
            block.iter().any(|f| f.log.is_some())
                && files
                    .rollups
                    .get(&(files.windows[first].window.clone(), size))
                    .is_some_and(|(_, sources)| *sources == logs_of(block))
        });
        // Every file read is part of the cache key, so a summary or roll-up written (or a
        // log changed) since makes a new graph.
        let mut inputs = Vec::new();
        let mut rollups = Vec::new();
        let mut singles = Vec::new();
        let mut present = Vec::new();
        for piece in &pieces {
            match *piece {
                rollup::Piece::Rollup { first, size } => {
                    let (info, _) = &files.rollups[&(files.windows[first].window.clone(), size)];
                    inputs.push(info.clone());
                    rollups.push((info.clone(), first, size));
                    present.extend(
                        files.windows[first..first + size]
                            .iter()
                            .filter(|f| f.log.is_some())
                            .map(|f| f.window.clone()),
                    );
                }
                rollup::Piece::Window(at) => {
                    let files = &files.windows[at];
                    if let Some(log) = &files.log {
                        inputs.push(log.clone());
                        inputs.extend(files.summary.clone());
                        singles.push((log.clone(), files.summary.clone()));
                        present.push(files.window.clone());
                    }
                }
            }
        }
        if present.is_empty() {
            return Err(OnDemandError::NotFound(format!(
                "no {} logs of {}.{} between {from} and {to}",
                series.period, series.channel, series.entry
            )));
        }
        if singles.len() > self.limits.max_range_windows {
            return Err(OnDemandError::Range(RangeError::TooManyWindows {
                needed: singles.len(),
                max: self.limits.max_range_windows,
            }));
        }
        let rolled_up_windows = present.len() - singles.len();
        let note = (rolled_up_windows > 0).then(|| {
            format!(
                "{} windows, {rolled_up_windows} of them from {} roll-ups (widths within {:.3} px)",
                present.len(),
                rollups.len(),
                3.0 * range_summary::RESOLUTION * self.min_width
            )
        });
        let span = if from == to {
            from.replace('_', " ")
        } else {
            format!("{from} to {to}")
        };
        let opts = GraphOptions {
            title: format!(
                "{} - {} - {span} ({} {}, {})",
                self.title,
                series.period,
                series.channel,
                series.entry,
                if reversed { "reversed" } else { "forward" }
            ),
            min_width: self.min_width,
            reverse: reversed,
            note,
            icicle,
        };
        let min_width = self.min_width.to_string();
        let key = graph_cache::key(
            "range",
            &[
                &opts.title,
                &min_width,
                &reversed.to_string(),
                &icicle.to_string(),
            ],
            &inputs,
        );
        if let Some(svgz) = self.cached(&key) {
            return Ok(Rendered {
                svgz,
                etag: key,
                from_cache: true,
                windows: present,
                summaries: None,
                rolled_up: None,
            });
        }
        let _permit = self.permit().await?;
        let min_width_pct = render::min_width_percent(self.min_width)?;
        // Roll-ups and summaries first, all read and then decoded together (on every
        // core); a window whose summary turns out unusable is read from its log, a block
        // whose roll-up does, from its windows.
        let mut summary_bytes = Vec::new();
        let mut expected = Vec::new();
        let mut reads = Vec::with_capacity(pieces.len());
        for (info, first, size) in &rollups {
            if let Some(bytes) = self.storage.get(&info.path).await? {
                summary_bytes.push(bytes);
                expected.push(Expect::Rollup(*first, *size));
            } else {
                expected.push(Expect::Missing(*first, *size));
            }
        }
        for (log, summary) in &singles {
            match summary {
                Some(info) => match self.storage.get(&info.path).await? {
                    Some(bytes) => {
                        summary_bytes.push(bytes);
                        expected.push(Expect::Summary(log.clone()));
                    }
                    None => reads.push(RangeInput::Log(self.read(log).await?)),
                },
                None => reads.push(RangeInput::Log(self.read(log).await?)),
            }
        }
        let mut decoded =
            blocking(move || Ok(range_summary::decode_trees(&summary_bytes, reversed)))
                .await?
                .into_iter();
        let (mut summaries, mut rolled_up) = (0, 0);
        for expect in expected {
            let summary = match expect {
                Expect::Missing(..) => None,
                _ => decoded.next().and_then(Result::ok),
            };
            match (expect, summary) {
                (Expect::Rollup(first, size), Some(summary))
                    if summary.fine_enough_for(min_width_pct) =>
                {
                    rolled_up += files.windows[first..first + size]
                        .iter()
                        .filter(|f| f.log.is_some())
                        .count();
                    reads.push(RangeInput::Summary(summary));
                }
                (Expect::Rollup(first, size) | Expect::Missing(first, size), _) => {
                    // Damaged, deleted or too coarse: its windows one by one.
                    for window in &files.windows[first..first + size] {
                        if let Some(log) = &window.log {
                            match self
                                .window_input(log, window.summary.as_ref(), min_width_pct, reversed)
                                .await?
                            {
                                input @ RangeInput::Summary(_) => {
                                    summaries += 1;
                                    reads.push(input);
                                }
                                input => reads.push(input),
                            }
                        }
                    }
                }
                (Expect::Summary(log), Some(summary))
                    if summary.stands_for(log.size, min_width_pct) =>
                {
                    summaries += 1;
                    reads.push(RangeInput::Summary(summary));
                }
                (Expect::Summary(log), _) => reads.push(RangeInput::Log(self.read(&log).await?)),
            }
        }
        let svgz = blocking(move || {
            let cutoff = |samples| render::tree::cutoff_for(samples, min_width_pct);
            let merged =
                range::merge(&reads, reversed, cutoff).map_err(|e| OnDemandError::Corrupt {
                    path: "one of the range's logs".into(),
                    error: e.to_string(),
                })?;
            Ok(render::render_ordered_lines_svgz(&merged.lines(), &opts)?)
        })
        .await?;
        let svgz = Bytes::from(svgz);
        self.remember(&key, &svgz);
        Ok(Rendered {
            svgz,
            etag: key,
            from_cache: false,
            windows: present,
            summaries: Some(summaries + rolled_up),
            rolled_up: Some(rolled_up),
        })
    }

    /// Where the files of `windows` (of `series`) are: from one
    /// listing of the period's logs, narrowed to the names' common start, for a range of
    /// at least one block of windows (with the roll-ups found there), else from one `stat`
    /// per window.
    async fn range_files(
        &self,
        series: &Series,
        windows: &[Window],
    ) -> Result<RangeFiles, OnDemandError> {
        // A range of at least the smallest block may read roll-ups, which only a listing
        // finds (their names hold a fingerprint); a shorter one stats each window.
        if windows.len() >= rollup::SMALLEST_BLOCK {
            return self.list_span(series, windows).await;
        }
        let mut files = RangeFiles::empty(windows);
        for files in &mut files.windows {
            let key = series.key(&files.window);
            if let Some(log) = self.storage.stat(&key.log_path()).await? {
                files.summary = self.current_summary(&key, &log).await?;
                files.log = Some(log);
            }
        }
        Ok(files)
    }

    /// The files of `windows` of `series` from one listing of the period's logs, narrowed
    /// to what every window name starts with (not only `from` and `to`: a format such as
    /// `%d-%m-%Y` does not sort by time), with the roll-ups found there.
    async fn list_span(
        &self,
        series: &Series,
        windows: &[Window],
    ) -> Result<RangeFiles, OnDemandError> {
        let first = windows.first().map_or("", |w| w.name.as_str());
        let shared = windows.iter().fold(first.len(), |shared, w| {
            first.as_bytes()[..shared]
                .iter()
                .zip(w.name.as_bytes())
                .take_while(|(a, b)| a == b)
                .count()
        });
        let prefix = format!(
            "{}{}",
            layout::logs_prefix(&series.period),
            &first[..shared]
        );
        let at: HashMap<&str, usize> = windows
            .iter()
            .enumerate()
            .map(|(i, w)| (w.name.as_str(), i))
            .collect();
        let mut files = RangeFiles::empty(windows);
        let mine = |key: &LogKey| key.channel == series.channel && key.entry == series.entry;
        // Companions found, by window index: kept once the logs are known.
        let (mut summaries, mut totals) = (Vec::new(), Vec::new());
        for object in self.storage.list(&prefix).await? {
            let name = layout::file_name(&object.path);
            let place = |key: &LogKey| at.get(key.window.as_str()).copied().filter(|_| mine(key));
            if let Some(key) = LogKey::from_log_name(&series.period, name) {
                if let Some(i) = place(&key) {
                    files.windows[i].log = Some(object);
                }
            } else if let Some(key) = catalogue::from_range_summary_name(&series.period, name) {
                if let Some(i) = place(&key) {
                    summaries.push((i, object));
                }
            } else if let Some(key) = catalogue::from_function_totals_name(&series.period, name) {
                if let Some(i) = place(&key) {
                    totals.push((i, object));
                }
            } else if let Some((key, size, sources)) =
                catalogue::from_rollup_name(&series.period, name)
            {
                if mine(&key) {
                    files.rollups.insert((key.window, size), (object, sources));
                }
            }
        }
        let not_older = |files: &WindowFiles, companion: &ObjectInfo| {
            files
                .log
                .as_ref()
                .is_some_and(|log| companion.modified >= log.modified)
        };
        for (i, summary) in summaries {
            if not_older(&files.windows[i], &summary) {
                files.windows[i].summary = Some(summary);
            }
        }
        for (i, totals) in totals {
            if not_older(&files.windows[i], &totals) {
                files.windows[i].totals = Some(totals);
            }
        }
        Ok(files)
    }

    /// One window's input to a range: its summary (the tree `reversed` asks for) when it
    /// stands for the log, else the log.
    async fn window_input(
        &self,
        log: &ObjectInfo,
        summary: Option<&ObjectInfo>,
        min_width_pct: f64,
        reversed: bool,
    ) -> Result<RangeInput, OnDemandError> {
        if let Some(info) = summary {
            if let Some(summary) = self
                .read_summary(info, log, min_width_pct, Some(reversed))
                .await?
            {
                return Ok(RangeInput::Summary(summary));
            }
        }
        Ok(RangeInput::Log(self.read(log).await?))
    }

    /// Window `window` of `series` as a profile in `format` (every sample exact, from its
    /// log), cached until the log changes.
    pub async fn export_window(
        &self,
        series: &Series,
        window: &str,
        format: ExportFormat,
    ) -> Result<Exported, OnDemandError> {
        self.period(&series.period)?;
        let key = series.key(window);
        let log = self.storage.stat(&key.log_path()).await?.ok_or_else(|| {
            OnDemandError::NotFound(format!(
                "{} does not exist (or was deleted by retention)",
                key.log_path()
            ))
        })?;
        let name = format!(
            "{} {} {}.{}",
            series.period, window, series.channel, series.entry
        );
        self.export(format, name, &[log]).await
    }

    /// Windows `from..=to` of `series` merged, as a profile in `format`: exact, from every
    /// window's log (never from the range summaries, which leave narrow frames out).
    pub async fn export_range(
        &self,
        series: &Series,
        from: &str,
        to: &str,
        format: ExportFormat,
    ) -> Result<Exported, OnDemandError> {
        let period = self.period(&series.period)?;
        let windows = range::windows_between(period, from, to, self.limits.max_range_span)?;
        // Exports are exact: every window is read from its log.
        if windows.len() > self.limits.max_range_windows {
            return Err(OnDemandError::Range(RangeError::TooManyWindows {
                needed: windows.len(),
                max: self.limits.max_range_windows,
            }));
        }
        let mut logs = Vec::new();
        for window in &windows {
            if let Some(log) = self
                .storage
                .stat(&series.key(&window.name).log_path())
                .await?
            {
                logs.push(log);
            }
        }
        if logs.is_empty() {
            return Err(OnDemandError::NotFound(format!(
                "no {} logs of {}.{} between {from} and {to}",
                series.period, series.channel, series.entry
            )));
        }
        let name = format!(
            "{} {} to {} {}.{}",
            series.period, from, to, series.channel, series.entry
        );
        self.export(format, name, &logs).await
    }

    /// The diff of windows `a` and `b` of `series` exported, exact from both logs: as
    /// speedscope JSON with a "before" and an "after" profile (the earlier window first),
    /// or when `folded` as `STACK BEFORE AFTER` lines. Cached until a log changes.
    pub async fn export_diff(
        &self,
        series: &Series,
        a: &str,
        b: &str,
        folded: bool,
    ) -> Result<Exported, OnDemandError> {
        let (before, after) = self.in_time_order(series, a, b)?;
        let mut logs = Vec::with_capacity(2);
        for window in [before, after] {
            let path = series.key(window).log_path();
            logs.push(self.storage.stat(&path).await?.ok_or_else(|| {
                OnDemandError::NotFound(format!(
                    "{path} does not exist (or was deleted by retention)"
                ))
            })?);
        }
        let name = format!(
            "{} {before} -> {after} {}.{}",
            series.period, series.channel, series.entry
        );
        let kind = if folded { "folded" } else { "speedscope" };
        let key = graph_cache::key("export-diff", &[kind, &name], &logs);
        if let Some(bytes) = self.cached(&key) {
            return Ok(Exported { bytes, etag: key });
        }
        let _permit = self.permit().await?;
        let mut reads = Vec::with_capacity(2);
        for log in &logs {
            reads.push(RangeInput::Log(self.read(log).await?));
        }
        let (before, after) = (before.to_owned(), after.to_owned());
        let bytes = blocking(move || {
            let mut sides = Vec::with_capacity(2);
            for read in &reads {
                sides.push(merge_exact(
                    std::slice::from_ref(read),
                    "one of the compared logs",
                )?);
            }
            let stacks: Vec<Vec<(&[u8], u64)>> = sides.iter().map(|text| stacks_of(text)).collect();
            Ok(if folded {
                crate::graphs::export::folded_diff(&stacks[0], &stacks[1])
            } else {
                crate::graphs::export::speedscope_profiles(
                    &name,
                    &[
                        (&format!("{before} (before)"), &stacks[0]),
                        (&format!("{after} (after)"), &stacks[1]),
                    ],
                )
            })
        })
        .await?;
        let bytes = Bytes::from(bytes);
        self.remember(&key, &bytes);
        Ok(Exported { bytes, etag: key })
    }

    /// `logs` merged and exported, or the cached export of the same logs.
    async fn export(
        &self,
        format: ExportFormat,
        name: String,
        logs: &[ObjectInfo],
    ) -> Result<Exported, OnDemandError> {
        let key = graph_cache::key("export", &[format.suffix(), &name], logs);
        if let Some(bytes) = self.cached(&key) {
            return Ok(Exported { bytes, etag: key });
        }
        let _permit = self.permit().await?;
        let mut reads = Vec::with_capacity(logs.len());
        for log in logs {
            reads.push(RangeInput::Log(self.read(log).await?));
        }
        let bytes = blocking(move || {
            let merged = merge_exact(&reads, "one of the exported logs")?;
            Ok(format.export(&name, &stacks_of(&merged)))
        })
        .await?;
        let bytes = Bytes::from(bytes);
        self.remember(&key, &bytes);
        Ok(Exported { bytes, etag: key })
    }

    /// The range summary at `info` if it stands for `log` at `min_width_pct`
    /// ([`RangeSummary::stands_for`]); `None` (read the log instead) otherwise. `tree`
    /// decodes only the forward (`Some(false)`) or the reversed (`Some(true)`) tree,
    /// `None` both.
    async fn read_summary(
        &self,
        info: &ObjectInfo,
        log: &ObjectInfo,
        min_width_pct: f64,
        tree: Option<bool>,
    ) -> Result<Option<RangeSummary>, OnDemandError> {
        let Some(bytes) = self.storage.get(&info.path).await? else {
            return Ok(None);
        };
        let log_size = log.size;
        blocking(move || {
            let decoded = match tree {
                Some(reversed) => RangeSummary::decode_tree(&bytes, reversed),
                None => RangeSummary::decode(&bytes),
            };
            Ok(decoded
                .ok()
                .filter(|summary| summary.stands_for(log_size, min_width_pct)))
        })
        .await
    }

    /// The range summary of `key`'s log `log`, when one exists that is not older than the log.
    async fn current_summary(
        &self,
        key: &LogKey,
        log: &ObjectInfo,
    ) -> Result<Option<ObjectInfo>, OnDemandError> {
        Ok(self
            .storage
            .stat(&catalogue::range_summary_path(key))
            .await?
            .filter(|summary| summary.modified >= log.modified))
    }

    /// The differential graph between windows `a` and `b`: the earlier one is "before", the
    /// later one "after" (drawn with its widths). Drawn from both windows' range summaries
    /// when they pin the graph closely enough, else from both logs streamed side by side
    /// (see [`crate::graphs::diff`] for the bounds); memory stays bounded either way.
    pub async fn diff(
        &self,
        series: &Series,
        a: &str,
        b: &str,
        mode: DiffMode,
    ) -> Result<Rendered, OnDemandError> {
        // Red always means "grew over time", whichever order the link gave.
        let (a, b) = self.in_time_order(series, a, b)?;
        // Each side's log, and its range summary when one was made from the log as it is
        // now; every file read is part of the cache key.
        let mut inputs = Vec::with_capacity(4);
        let mut sides = Vec::with_capacity(2);
        for window in [a, b] {
            let key = series.key(window);
            let path = key.log_path();
            let log = self
                .storage
                .stat(&path)
                .await?
                .ok_or_else(|| OnDemandError::NotFound(format!("no log {path}")))?;
            let summary = self.current_summary(&key, &log).await?;
            inputs.push(log.clone());
            inputs.extend(summary.clone());
            sides.push((log, summary));
        }
        let opts = GraphOptions {
            title: format!(
                "{} - {} - {} -> {} ({} {}, {})",
                self.title,
                series.period,
                a,
                b,
                series.channel,
                series.entry,
                match mode {
                    DiffMode::Share => "share of samples",
                    DiffMode::Absolute => "absolute samples",
                }
            ),
            min_width: self.min_width,
            reverse: false,
            note: None,
            icicle: false,
        };
        let min_width = self.min_width.to_string();
        let key = graph_cache::key("diff", &[&opts.title, &min_width], &inputs);
        let windows = vec![a.to_owned(), b.to_owned()];
        if let Some(svgz) = self.cached(&key) {
            return Ok(Rendered {
                svgz,
                etag: key,
                from_cache: true,
                windows,
                summaries: None,
                rolled_up: None,
            });
        }
        let _permit = self.permit().await?;
        let min_width_pct = render::min_width_percent(self.min_width)?;
        let mut summaries = Vec::with_capacity(2);
        for (log, summary) in &sides {
            summaries.push(match summary {
                Some(info) => self.read_summary(info, log, min_width_pct, None).await?,
                None => None,
            });
        }
        let totals = (
            summaries[0].as_ref().map(|s| s.samples),
            summaries[1].as_ref().map(|s| s.samples),
        );
        // Summaries first: a few MB each instead of GBs of logs.
        let after_summary = summaries.pop().flatten();
        let before_summary = summaries.pop().flatten();
        let from_summaries = match (before_summary, after_summary) {
            (Some(before), Some(after)) => {
                let opts = opts.clone();
                blocking(move || {
                    let lines =
                        crate::graphs::diff::from_summaries(&before, &after, mode, min_width_pct)
                            .ok()
                            .flatten();
                    lines
                        .map(|lines| Ok(render::render_diff_lines_svgz(&lines.lines(), &opts)?))
                        .transpose()
                })
                .await?
            }
            _ => None,
        };
        let (svgz, read_summaries) = match from_summaries {
            Some(svgz) => (svgz, 2),
            None => {
                let before = self.read(&sides[0].0).await?;
                let after = self.read(&sides[1].0).await?;
                let paths = (sides[0].0.path.clone(), sides[1].0.path.clone());
                let svgz = blocking(move || {
                    match crate::graphs::diff::from_logs(
                        &before,
                        &after,
                        totals,
                        mode,
                        min_width_pct,
                    ) {
                        Ok(lines) => Ok(render::render_diff_lines_svgz(&lines.lines(), &opts)?),
                        // Stacks this bounded path cannot draw (a frame ending in what inferno
                        // reads as a count): the exact path, which holds both windows.
                        Err(crate::graphs::diff::DiffError::Tree(_)) => {
                            let before = decode(&paths.0, &before)?;
                            let after = decode(&paths.1, &after)?;
                            let svg = render::render_diff_svg(&before, &after, mode, &opts)?;
                            Ok(crate::store::compress::gzip(&svg))
                        }
                        Err(e) => Err(OnDemandError::Corrupt {
                            path: format!("{} or {}", paths.0, paths.1),
                            error: e.to_string(),
                        }),
                    }
                })
                .await?;
                (svgz, 0)
            }
        };
        let svgz = Bytes::from(svgz);
        self.remember(&key, &svgz);
        Ok(Rendered {
            svgz,
            etag: key,
            from_cache: false,
            windows,
            summaries: Some(read_summaries),
            rolled_up: None,
        })
    }

    /// The trend of `function` over windows `from..=to` of `series`: its share of each
    /// window's samples, read from the windows' function totals (one listing, then one
    /// small file per window), cached until one of them changes.
    pub async fn trend(
        &self,
        series: &Series,
        function: &str,
        from: &str,
        to: &str,
    ) -> Result<Trend, OnDemandError> {
        if function.is_empty() || function.len() > 1000 || function.contains(';') {
            return Err(OnDemandError::BadRequest(
                "function must be one frame name (not empty, no `;`, at most 1000 bytes)".into(),
            ));
        }
        let period = self.period(&series.period)?;
        let windows = range::windows_between(period, from, to, self.limits.max_range_span)?;
        // Windows with a log; their totals when not older than the log.
        let mut present = Vec::new();
        let mut inputs = Vec::new();
        for files in self.list_span(series, &windows).await?.windows {
            let Some(log) = files.log else { continue };
            inputs.push(log.clone());
            inputs.extend(files.totals.clone());
            present.push((files.window, log, files.totals));
        }
        if present.is_empty() {
            return Err(OnDemandError::NotFound(format!(
                "no {} logs of {}.{} between {from} and {to}",
                series.period, series.channel, series.entry
            )));
        }
        let key = graph_cache::key("trend", &[function, from, to], &inputs);
        let cached = self
            .cached(&key)
            .and_then(|json| serde_json::from_slice::<Trend>(&json).ok());
        if let Some(trend) = cached {
            return Ok(trend);
        }
        let _permit = self.permit().await?;
        let reads = present.iter().map(|(_, log, totals)| async move {
            match totals {
                Some(info) => self
                    .storage
                    .get(&info.path)
                    .await
                    .map(|bytes| bytes.map(|b| (b, log.size))),
                None => Ok(None),
            }
        });
        let read: Vec<Result<Option<(Bytes, u64)>, StorageError>> =
            futures_util::stream::iter(reads)
                .buffered(16)
                .collect()
                .await;
        let mut files = Vec::with_capacity(read.len());
        for result in read {
            files.push(result?);
        }
        let names: Vec<String> = present.into_iter().map(|(name, _, _)| name).collect();
        let wanted_function = function.to_owned();
        let trend = blocking(move || {
            let points: Vec<Point> = names
                .iter()
                .zip(&files)
                .map(|(window, file)| {
                    let totals = file.as_ref().and_then(|(bytes, log_bytes)| {
                        FunctionTotals::decode(bytes)
                            .ok()
                            .filter(|t| t.log_bytes == *log_bytes)
                    });
                    Point::of(window, &wanted_function, totals.as_ref())
                })
                .collect();
            Ok(points)
        })
        .await?;
        let without_totals = trend.iter().filter(|p| p.samples.is_none()).count();
        let answer = Trend {
            period: series.period.clone(),
            channel: series.channel.clone(),
            entry: series.entry.clone(),
            function: function.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            without_totals,
            points: trend,
        };
        if let Ok(json) = serde_json::to_vec(&answer) {
            self.remember(&key, &Bytes::from(json));
        }
        Ok(answer)
    }

    /// The leaderboard of one window with its parameters, `grep` and `limit` checked.
    pub async fn top_report(
        &self,
        series: &Series,
        window: &str,
        grep: Option<String>,
        limit: usize,
    ) -> Result<TopReport, OnDemandError> {
        let grep = grep.filter(|g| !g.is_empty());
        let query = Query::new(grep.as_deref(), limit)?;
        let board = self.top(series, window, query).await?;
        Ok(TopReport {
            period: series.period.clone(),
            window: window.to_owned(),
            channel: series.channel.clone(),
            entry: series.entry.clone(),
            grep,
            board,
        })
    }

    /// The leaderboard of one window.
    pub async fn top(
        &self,
        series: &Series,
        window: &str,
        query: Query,
    ) -> Result<Leaderboard, OnDemandError> {
        let period = self.period(&series.period)?;
        self.window_of(period, "window", window)?;
        let path = series.key(window).log_path();
        let _permit = self.permit().await?;
        let log = self
            .storage
            .get(&path)
            .await?
            .ok_or_else(|| OnDemandError::NotFound(format!("no log {path}")))?;
        let skip = self.skip.clone();
        blocking(move || {
            let text = decode(&path, &log)?;
            let stacks =
                crate::ingest::sample::lines(&text).filter_map(crate::store::folded::parse_line);
            Ok(top::leaderboard(stacks, &skip, &query))
        })
        .await
    }
}

fn decode(path: &str, log: &[u8]) -> Result<Vec<u8>, OnDemandError> {
    crate::store::folded::decode(log).map_err(|e| OnDemandError::Corrupt {
        path: path.to_owned(),
        error: e.to_string(),
    })
}

/// Test aid, compiled into debug builds only: hold every on-demand computation for
/// `ARCLAMP_DEBUG_ON_DEMAND_DELAY_MS` milliseconds, so tests can fill the concurrency limit
/// deterministically.
#[cfg(debug_assertions)]
fn injected_delay() {
    if let Some(ms) = std::env::var("ARCLAMP_DEBUG_ON_DEMAND_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// Release builds: nothing.
#[cfg(not(debug_assertions))]
fn injected_delay() {}

/// Run CPU-heavy work on the blocking pool, off the thread serving HTTP.
/// `reads` merged with every frame kept (a cutoff of 0), as sorted `STACK COUNT` lines;
/// `what` names the inputs in the error.
fn merge_exact(reads: &[RangeInput], what: &str) -> Result<String, OnDemandError> {
    range::merge(reads, false, |_| 0.0)
        .map(|merged| merged.text)
        .map_err(|e| OnDemandError::Corrupt {
            path: what.into(),
            error: e.to_string(),
        })
}

/// The (stack, count) of `STACK COUNT` lines.
fn stacks_of(text: &str) -> Vec<(&[u8], u64)> {
    crate::ingest::sample::lines(text.as_bytes())
        .filter_map(crate::store::folded::parse_line)
        .collect()
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, OnDemandError> + Send + 'static,
) -> Result<T, OnDemandError> {
    let work = move || {
        injected_delay();
        work()
    };
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        OnDemandError::Render(RenderError::Panicked(format!(
            "the rendering task failed: {e}"
        )))
    })?
}
