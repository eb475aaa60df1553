//! The catalogue: every stored graph and log described from a storage listing alone, plus
//! the small summary (`.meta.json`) each checkpoint writes beside its log, so counting a
//! window's samples never means decompressing it.
//!
//! ```text
//! logs/{period}/{window}.{channel}.{entry}.log.gz      the trace log
//! logs/{period}/{window}.{channel}.{entry}.meta.json   {"samples": N, "stacks": M}
//! logs/{period}/{window}.{channel}.{entry}.range.gz     its range summary (crate::graphs::range_summary)
//! logs/{period}/{window}.{channel}.{entry}.functions.gz its function totals (crate::graphs::trend)
//! logs/{period}/{window}.{channel}.{entry}.rollup{N}.{sources}.gz
//!                                     the roll-up of N windows from it (crate::graphs::rollup)
//! ```
//!
//! Summaries are companions of their log: listings do not show them as logs, retention
//! deletes them with it, `arclamp copy` copies them like any object.
//!
//! This module only parses and shapes: callers list storage and read summaries.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::ingest::window::{Period, Window};
use crate::store::layout::{self, LogKey};
use crate::store::storage::ObjectInfo;

/// What a checkpoint records beside its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSummary {
    /// Samples in the log (sum of counts).
    pub samples: u64,
    /// Distinct stacks in the log.
    pub stacks: u64,
}

impl LogSummary {
    /// The summary's stored bytes (JSON).
    pub fn encode(&self) -> Vec<u8> {
        // Serializing two integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Read a stored summary; `None` when damaged.
    pub fn decode(bytes: &[u8]) -> Option<LogSummary> {
        serde_json::from_slice(bytes).ok()
    }
}

/// How an object made from the `all` log `all` (an entry point's log or graph, see
/// [`crate::graphs::derived`]) is listed at `path`: with the `all` log's size and
/// modification time, a version stamp that changes exactly when the `all` log does.
pub fn derived_info(path: String, all: &ObjectInfo) -> ObjectInfo {
    ObjectInfo {
        path,
        size: all.size,
        modified: all.modified,
    }
}

/// Whether the listed log `log` is one made from its window's `all` log `all` on read
/// (listed by [`derived_info`]), not stored.
pub fn is_derived(log: &ObjectInfo, all: &ObjectInfo) -> bool {
    log.path != all.path && log.size == all.size && log.modified == all.modified
}

/// Which kind of stored file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A flame graph (`.svgz`).
    Graph,
    /// A trace log (`.log.gz`).
    Log,
}

/// One stored graph or log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Graph or log.
    pub kind: FileKind,
    /// The log this is (or was rendered from).
    pub key: LogKey,
    /// The function-focused graph's label.
    pub function: Option<String>,
    /// Reversed graph.
    pub reversed: bool,
    /// Storage path (also the URL path, with a leading `/`).
    pub path: String,
    /// Stored size (0 for an entry point's log or graph made from `all` on read).
    pub bytes: u64,
    /// Last write (for a live window's log: its last checkpoint).
    pub modified: SystemTime,
    /// Whether it is stored, or made from its window's `all` log when read (an entry
    /// point's log and graphs, listed with `all`'s size and time: [`derived_info`]).
    pub stored: bool,
}

/// One window of a period, with everything stored for it.
#[derive(Debug, Clone)]
pub struct WindowFiles {
    /// The window.
    pub window: Window,
    /// Its graphs and logs, by (channel, entry, kind, function, reversed).
    pub items: Vec<Item>,
}

/// Everything stored for one period, newest window first.
#[derive(Debug, Clone, Default)]
pub struct PeriodFiles {
    /// Windows, newest first.
    pub windows: Vec<WindowFiles>,
    /// Summary object per log path (modification time and size of the summary).
    pub summaries: HashMap<String, ObjectInfo>,
}

/// The summary's path for a log key.
pub fn summary_path(key: &LogKey) -> String {
    format!(
        "logs/{}/{}.{}.{}.meta.json",
        key.period, key.window, key.channel, key.entry
    )
}

/// Read a summary's file name back into its log key.
pub fn from_summary_name(period: &str, file_name: &str) -> Option<LogKey> {
    let stem = file_name.strip_suffix(".meta.json")?;
    LogKey::from_log_name(period, &format!("{stem}.log.gz"))
}

/// The range summary's path for a log key (see [`crate::graphs::range_summary`]).
pub fn range_summary_path(key: &LogKey) -> String {
    format!(
        "logs/{}/{}.{}.{}.range.gz",
        key.period, key.window, key.channel, key.entry
    )
}

/// Read a range summary's file name back into its log key.
pub fn from_range_summary_name(period: &str, file_name: &str) -> Option<LogKey> {
    let stem = file_name.strip_suffix(".range.gz")?;
    LogKey::from_log_name(period, &format!("{stem}.log.gz"))
}

/// The function totals' path for a log key (see [`crate::graphs::trend`]).
pub fn function_totals_path(key: &LogKey) -> String {
    format!(
        "logs/{}/{}.{}.{}.functions.gz",
        key.period, key.window, key.channel, key.entry
    )
}

/// Read a function totals file name back into its log key.
pub fn from_function_totals_name(period: &str, file_name: &str) -> Option<LogKey> {
    let stem = file_name.strip_suffix(".functions.gz")?;
    LogKey::from_log_name(period, &format!("{stem}.log.gz"))
}

/// The path of the roll-up of the `size` windows starting at `first`'s window, built from
/// logs with fingerprint `sources` (see [`crate::graphs::rollup`]).
pub fn rollup_path(first: &LogKey, size: usize, sources: u64) -> String {
    format!(
        "logs/{}/{}.{}.{}.rollup{size}.{sources:016x}.gz",
        first.period, first.window, first.channel, first.entry
    )
}

/// Read a roll-up's file name back: the key of its block's first window, the block's size
/// and the fingerprint of the logs it was built from.
pub fn from_rollup_name(period: &str, file_name: &str) -> Option<(LogKey, usize, u64)> {
    let stem = file_name.strip_suffix(".gz")?;
    let (stem, sources) = stem.rsplit_once('.')?;
    let (stem, size) = stem.rsplit_once('.')?;
    let size: usize = size.strip_prefix("rollup")?.parse().ok()?;
    let sources = (sources.len() == 16)
        .then(|| u64::from_str_radix(sources, 16).ok())
        .flatten()?;
    let key = LogKey::from_log_name(period, &format!("{stem}.log.gz"))?;
    Some((key, size, sources))
}

/// The log a companion file (a `.meta.json`, `.range.gz` or `.functions.gz` summary, or a
/// roll-up, which
/// belongs to its block's first window) belongs to, from the companion's file name; `None`
/// for a log itself or a foreign name.
pub fn companion_of(period: &str, file_name: &str) -> Option<LogKey> {
    from_summary_name(period, file_name)
        .or_else(|| from_range_summary_name(period, file_name))
        .or_else(|| from_function_totals_name(period, file_name))
        .or_else(|| from_rollup_name(period, file_name).map(|(key, _, _)| key))
}

/// Shape one period's listings (`logs/{period}/`, `svgs/{period}/`) into windows, newest
/// first. Names that are not the layout's, or windows not of this period, are skipped.
pub fn period_files(period: &Period, logs: &[ObjectInfo], svgs: &[ObjectInfo]) -> PeriodFiles {
    let mut windows: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    let mut summaries = HashMap::new();
    let derived = derived_paths(period.name(), logs, svgs);
    for object in logs {
        let name = layout::file_name(&object.path);
        if let Some(key) = LogKey::from_log_name(period.name(), name) {
            let stored = !derived.contains(&object.path);
            windows.entry(key.window.clone()).or_default().push(Item {
                kind: FileKind::Log,
                key,
                function: None,
                reversed: false,
                path: object.path.clone(),
                bytes: if stored { object.size } else { 0 },
                modified: object.modified,
                stored,
            });
        } else if let Some(key) = from_summary_name(period.name(), name) {
            summaries.insert(key.log_path(), object.clone());
        }
    }
    for object in svgs {
        if let Some((key, kind)) =
            LogKey::from_svg_name(period.name(), layout::file_name(&object.path))
        {
            let stored = !derived.contains(&object.path);
            windows.entry(key.window.clone()).or_default().push(Item {
                kind: FileKind::Graph,
                key,
                function: kind.function,
                reversed: kind.reversed,
                path: object.path.clone(),
                bytes: if stored { object.size } else { 0 },
                modified: object.modified,
                stored,
            });
        }
    }
    let mut windows: Vec<WindowFiles> = windows
        .into_iter()
        .filter_map(|(name, mut items)| {
            let window = period.window_named(&name)?;
            items.sort_by(|a, b| {
                (
                    &a.key.channel,
                    &a.key.entry,
                    a.kind,
                    &a.function,
                    a.reversed,
                )
                    .cmp(&(
                        &b.key.channel,
                        &b.key.entry,
                        b.kind,
                        &b.function,
                        b.reversed,
                    ))
            });
            Some(WindowFiles { window, items })
        })
        .collect();
    windows.sort_by_key(|w| std::cmp::Reverse(w.window.start));
    PeriodFiles { windows, summaries }
}

/// The logs of one period's listings (`logs`, `svgs`: as listed, entry points' derived
/// logs among them) that are newer than what was rendered from them: `all`'s forward graph,
/// or, for an entry point (whose graphs are drawn on request), its function totals.
pub fn stale_renders(period: &str, logs: &[ObjectInfo], svgs: &[ObjectInfo]) -> Vec<LogKey> {
    let rendered_at: HashMap<&str, SystemTime> = svgs
        .iter()
        .chain(logs)
        .map(|o| (o.path.as_str(), o.modified))
        .collect();
    logs.iter()
        .filter_map(|log| {
            let key = LogKey::from_log_name(period, layout::file_name(&log.path))?;
            let rendered = if key.entry == layout::ALL {
                key.svg_path(&layout::GraphKind {
                    function: None,
                    reversed: false,
                })
            } else {
                function_totals_path(&key)
            };
            rendered_at
                .get(rendered.as_str())
                .is_none_or(|&t| t < log.modified)
                .then_some(key)
        })
        .collect()
}

/// The paths, among one period's listings, of entry points' logs and graphs made on read
/// (listed by [`derived_info`]): a log listed with its window's `all` log's size and time,
/// a graph with its log's.
pub fn derived_paths(period: &str, logs: &[ObjectInfo], svgs: &[ObjectInfo]) -> HashSet<String> {
    let listed: HashMap<LogKey, &ObjectInfo> = logs
        .iter()
        .filter_map(|o| {
            Some((
                LogKey::from_log_name(period, layout::file_name(&o.path))?,
                o,
            ))
        })
        .collect();
    let from = |object: &ObjectInfo, source: &LogKey| {
        listed
            .get(source)
            .is_some_and(|source| is_derived(object, source))
    };
    let entry_logs = listed
        .iter()
        .filter(|(key, log)| key.entry != layout::ALL && from(log, &key.all()));
    let entry_graphs = svgs.iter().filter(|svg| {
        LogKey::from_svg_name(period, layout::file_name(&svg.path)).is_some_and(|(key, kind)| {
            key.entry != layout::ALL && kind.function.is_none() && from(svg, &key)
        })
    });
    entry_logs
        .map(|(_, log)| log.path.clone())
        .chain(entry_graphs.map(|svg| svg.path.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn object(path: &str, size: u64) -> ObjectInfo {
        ObjectInfo {
            path: path.into(),
            size,
            modified: UNIX_EPOCH,
        }
    }

    #[test]
    fn rollup_names_read_back_and_belong_to_their_first_window() {
        let key = LogKey {
            period: "daily".into(),
            window: "2026-01-28".into(),
            channel: "excimer.k8s".into(),
            entry: "all".into(),
        };
        let path = rollup_path(&key, 64, 0xdead_beef);
        assert_eq!(
            path,
            "logs/daily/2026-01-28.excimer.k8s.all.rollup64.00000000deadbeef.gz"
        );
        let name = layout::file_name(&path);
        assert_eq!(
            from_rollup_name("daily", name),
            Some((key.clone(), 64, 0xdead_beef))
        );
        assert_eq!(companion_of("daily", name), Some(key));
        for foreign in [
            "2026-01-28.excimer.all.rollup64.gz",
            "2026-01-28.excimer.all.rollupx.00000000deadbeef.gz",
            "2026-01-28.excimer.all.rollup8.deadbeef.gz",
            "2026-01-28.excimer.all.log.gz",
        ] {
            assert_eq!(from_rollup_name("daily", foreign), None, "{foreign}");
        }
    }

    #[test]
    fn summaries_round_trip_and_name_their_log() {
        let s = LogSummary {
            samples: 12,
            stacks: 3,
        };
        assert_eq!(LogSummary::decode(&s.encode()), Some(s));
        assert_eq!(LogSummary::decode(b"{"), None);
        let key = LogKey::from_log_name("daily", "2026-11-24.excimer.all.log.gz").unwrap();
        let path = summary_path(&key);
        assert_eq!(path, "logs/daily/2026-11-24.excimer.all.meta.json");
        assert_eq!(
            from_summary_name("daily", layout::file_name(&path)),
            Some(key.clone())
        );
        let range = range_summary_path(&key);
        assert_eq!(range, "logs/daily/2026-11-24.excimer.all.range.gz");
        assert_eq!(
            companion_of("daily", layout::file_name(&range)),
            Some(key.clone())
        );
        assert_eq!(companion_of("daily", layout::file_name(&path)), Some(key));
        // Neither a log nor a summary of one.
        assert_eq!(companion_of("daily", "2026-11-24.excimer.all.log.gz"), None);
        assert_eq!(
            LogKey::from_log_name("daily", layout::file_name(&range)),
            None
        );
    }

    #[test]
    fn a_log_newer_than_what_was_rendered_from_it_is_stale() {
        let at = |secs: u64, path: &str| ObjectInfo {
            path: path.into(),
            size: 10,
            modified: UNIX_EPOCH + std::time::Duration::from_secs(secs),
        };
        let logs = [
            at(100, "logs/daily/2026-11-24.excimer.all.log.gz"),
            at(100, "logs/daily/2026-11-23.excimer.all.log.gz"),
            // Entry points (made from all: all's time): their function totals tell.
            at(100, "logs/daily/2026-11-24.excimer.index.log.gz"),
            at(150, "logs/daily/2026-11-24.excimer.index.functions.gz"),
            at(100, "logs/daily/2026-11-24.excimer.api.log.gz"),
            at(50, "logs/daily/2026-11-24.excimer.api.functions.gz"),
            at(100, "logs/daily/2026-11-24.excimer.load.log.gz"),
        ];
        let svgs = [
            at(150, "svgs/daily/2026-11-24.excimer.all.svgz"),
            at(50, "svgs/daily/2026-11-23.excimer.all.svgz"),
        ];
        let stale: Vec<String> = stale_renders("daily", &logs, &svgs)
            .iter()
            .map(|k| format!("{}.{}", k.window, k.entry))
            .collect();
        assert_eq!(
            stale,
            ["2026-11-23.all", "2026-11-24.api", "2026-11-24.load"]
        );
    }

    #[test]
    fn entry_points_made_from_all_are_listed_as_not_stored() {
        let daily = Period::new("daily", "%Y-%m-%d").unwrap();
        let all = object("logs/daily/2026-11-24.excimer.all.log.gz", 1000);
        let logs = [
            all.clone(),
            derived_info("logs/daily/2026-11-24.excimer.index.log.gz".into(), &all),
            // Stored by an earlier release (another size): stored.
            object("logs/daily/2026-11-24.excimer.api.log.gz", 300),
        ];
        let api = object("logs/daily/2026-11-24.excimer.api.log.gz", 300);
        let svgs = [
            derived_info("svgs/daily/2026-11-24.excimer.index.svgz".into(), &all),
            // Drawn from api's stored log, listed with its size and time.
            derived_info("svgs/daily/2026-11-24.excimer.api.svgz".into(), &api),
        ];
        let files = period_files(&daily, &logs, &svgs);
        let stored: Vec<(&str, FileKind, bool, u64)> = files.windows[0]
            .items
            .iter()
            .map(|i| (i.key.entry.as_str(), i.kind, i.stored, i.bytes))
            .collect();
        assert_eq!(
            stored,
            [
                ("all", FileKind::Log, true, 1000),
                ("api", FileKind::Graph, false, 0),
                ("api", FileKind::Log, true, 300),
                ("index", FileKind::Graph, false, 0),
                ("index", FileKind::Log, false, 0),
            ]
        );
    }

    #[test]
    fn listings_become_windows_newest_first() {
        let daily = Period::new("daily", "%Y-%m-%d").unwrap();
        let logs = [
            object("logs/daily/2026-11-23.excimer.all.log.gz", 10),
            object("logs/daily/2026-11-24.excimer.all.log.gz", 20),
            object("logs/daily/2026-11-24.excimer.all.meta.json", 2),
            object("logs/daily/2026-11-24.excimer.all.range.gz", 3),
            object("logs/daily/notes.txt", 1),
            object("logs/daily/2026-11-24_10.excimer.all.log.gz", 1),
        ];
        let svgs = [
            object("svgs/daily/2026-11-24.excimer.all.svgz", 30),
            object("svgs/daily/2026-11-24.excimer.all.fn-Edit.reversed.svgz", 5),
        ];
        let files = period_files(&daily, &logs, &svgs);
        let names: Vec<&str> = files
            .windows
            .iter()
            .map(|w| w.window.name.as_str())
            .collect();
        assert_eq!(names, ["2026-11-24", "2026-11-23"]);
        let newest = &files.windows[0].items;
        assert_eq!(newest.len(), 3);
        assert_eq!(newest[0].kind, FileKind::Graph);
        assert_eq!(newest[0].function, None);
        assert_eq!(newest[1].function.as_deref(), Some("Edit"));
        assert!(newest[1].reversed);
        assert_eq!(newest[2].kind, FileKind::Log);
        assert!(files
            .summaries
            .contains_key("logs/daily/2026-11-24.excimer.all.log.gz"));
    }
}
