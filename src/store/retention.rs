//! Retention: which stored logs and graphs to delete, decided from a listing alone.
//!
//! Per period, and per channel and entry point, the newest `retain` windows are kept;
//! windows that ended more than `max_age` ago go too; graphs and log summaries
//! (`.meta.json` and `.range.gz`, see [`crate::store::catalogue`]) whose log is gone are orphans
//! and go. Windows still being aggregated are never touched. The caller does the
//! deleting; this module only plans, so it is tested without storage or time passing.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::store::catalogue;
// Defined with the event that reports it (ops imports nothing of store).
use crate::ingest::window::{Period, Window};
pub use crate::ops::events::Usage;
use crate::store::layout::{self, LogKey};
use crate::store::storage::ObjectInfo;

/// The period stream mode counts every entry in; its windows are whole hours, and every
/// longer window is built from them.
pub const HOURLY: &str = "hourly";

/// The [`HOURLY`] period among `specs`, if configured.
pub fn hourly(specs: &[PeriodSpec]) -> Option<&PeriodSpec> {
    specs.iter().find(|s| s.period.name() == HOURLY)
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

/// Paths to delete, logs first (so a crash in between leaves orphan graphs, which the next
/// pass removes, rather than graphs whose log was kept).
pub fn plan(
    spec: &PeriodSpec,
    now: DateTime<Utc>,
    logs: &[ObjectInfo],
    svgs: &[ObjectInfo],
    live_windows: &HashSet<String>,
) -> Vec<String> {
    let period = &spec.period;
    let mut series: BTreeMap<(String, String), Vec<(Window, &str)>> = BTreeMap::new();
    for log in logs {
        let Some(key) = LogKey::from_log_name(period.name(), layout::file_name(&log.path)) else {
            continue;
        };
        let Some(window) = period.window_named(&key.window) else {
            continue;
        };
        series
            .entry((key.channel, key.entry))
            .or_default()
            .push((window, &log.path));
    }
    let max_age = spec
        .max_age
        .and_then(|age| chrono::Duration::from_std(age).ok());
    let mut doomed = Vec::new();
    let mut kept_logs: HashSet<&str> = HashSet::new();
    for windows in series.values_mut() {
        windows.sort_by_key(|w| std::cmp::Reverse(w.0.start));
        for (rank, (window, path)) in windows.iter().enumerate() {
            let too_many = rank >= spec.retain;
            let too_old = max_age.is_some_and(|age| window.end + age < now);
            if (too_many || too_old) && !live_windows.contains(&window.name) {
                doomed.push((*path).to_owned());
            } else {
                kept_logs.insert(path);
            }
        }
    }
    for summary in logs {
        let Some(key) = catalogue::companion_of(period.name(), layout::file_name(&summary.path))
        else {
            continue;
        };
        if !kept_logs.contains(key.log_path().as_str()) && !live_windows.contains(&key.window) {
            doomed.push(summary.path.clone());
        }
    }
    for svg in svgs {
        let Some((key, _)) = LogKey::from_svg_name(period.name(), layout::file_name(&svg.path))
        else {
            continue;
        };
        if !kept_logs.contains(key.log_path().as_str()) && !live_windows.contains(&key.window) {
            doomed.push(svg.path.clone());
        }
    }
    doomed
}

/// What stays stored for `spec`'s period once `deleted` paths are gone, from the same
/// listing [`plan`] reads, so measuring storage costs no second walk.
pub fn usage(
    spec: &PeriodSpec,
    logs: &[ObjectInfo],
    svgs: &[ObjectInfo],
    deleted: &HashSet<String>,
) -> Usage {
    let mut usage = Usage::default();
    // Entry points' logs and graphs made on read from `all` are listed but not stored.
    let derived = catalogue::derived_paths(spec.period.name(), logs, svgs);
    let stored = |o: &&ObjectInfo| !deleted.contains(&o.path) && !derived.contains(&o.path);
    for log in logs.iter().filter(stored) {
        usage.log_bytes += log.size;
        usage.logs += 1;
        let window = LogKey::from_log_name(spec.period.name(), layout::file_name(&log.path))
            .and_then(|key| spec.period.window_named(&key.window));
        if let Some(window) = window {
            usage.oldest = Some(usage.oldest.map_or(window.start, |t| t.min(window.start)));
            usage.newest = Some(usage.newest.map_or(window.start, |t| t.max(window.start)));
        }
    }
    for svg in svgs.iter().filter(stored) {
        usage.graph_bytes += svg.size;
        usage.graphs += 1;
    }
    usage
}

/// A duration as the retention log shows it.
pub fn describe_age(age: Option<Duration>) -> String {
    age.map_or_else(
        || "none".to_owned(),
        |a| humantime::format_duration(a).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::ingest::window::Period;

    fn spec(retain: usize, max_age: Option<Duration>) -> PeriodSpec {
        PeriodSpec {
            period: Period::new("hourly", "%Y-%m-%d_%H").unwrap(),
            retain,
            max_age,
        }
    }

    fn object(path: &str) -> ObjectInfo {
        ObjectInfo {
            path: path.into(),
            size: 1,
            modified: SystemTime::UNIX_EPOCH,
        }
    }

    fn logs(names: &[&str]) -> Vec<ObjectInfo> {
        names
            .iter()
            .map(|n| object(&format!("logs/hourly/{n}")))
            .collect()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T12:30:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn keeps_the_newest_windows_per_channel_and_entry() {
        let logs = logs(&[
            "2026-11-24_10.excimer.all.log.gz",
            "2026-11-24_11.excimer.all.log.gz",
            "2026-11-24_09.excimer.all.log.gz",
            "2026-11-24_09.excimer.index.log.gz",
        ]);
        let doomed = plan(&spec(2, None), now(), &logs, &[], &HashSet::new());
        assert_eq!(doomed, vec!["logs/hourly/2026-11-24_09.excimer.all.log.gz"]);
    }

    #[test]
    fn deletes_windows_past_max_age_and_orphan_graphs() {
        let logs = logs(&[
            "2026-11-24_09.excimer.all.log.gz",
            "2026-11-24_11.excimer.all.log.gz",
        ]);
        let svgs = vec![
            object("svgs/hourly/2026-11-24_09.excimer.all.svgz"),
            object("svgs/hourly/2026-11-24_09.excimer.all.fn-Edit.reversed.svgz"),
            object("svgs/hourly/2026-11-24_11.excimer.all.reversed.svgz"),
            object("svgs/hourly/2026-11-24_05.excimer.api.svgz"),
            object("svgs/hourly/notes.txt"),
        ];
        let mut doomed = plan(
            &spec(100, Some(Duration::from_secs(2 * 3600))),
            now(),
            &logs,
            &svgs,
            &HashSet::new(),
        );
        doomed.sort();
        assert_eq!(
            doomed,
            vec![
                "logs/hourly/2026-11-24_09.excimer.all.log.gz",
                "svgs/hourly/2026-11-24_05.excimer.api.svgz",
                "svgs/hourly/2026-11-24_09.excimer.all.fn-Edit.reversed.svgz",
                "svgs/hourly/2026-11-24_09.excimer.all.svgz",
            ]
        );
    }

    #[test]
    fn usage_counts_what_is_left_after_deletions() {
        let sized = |path: &str, size: u64| ObjectInfo {
            size,
            ..object(path)
        };
        let logs = vec![
            sized("logs/hourly/2026-11-24_09.excimer.all.log.gz", 100),
            sized("logs/hourly/2026-11-24_11.excimer.all.log.gz", 200),
            sized("logs/hourly/2026-11-23_22.excimer.index.log.gz", 50),
            sized("logs/hourly/notes.txt", 7),
        ];
        let svgs = vec![
            sized("svgs/hourly/2026-11-24_11.excimer.all.svgz", 30),
            sized("svgs/hourly/2026-11-23_22.excimer.index.svgz", 40),
        ];
        let deleted: HashSet<String> = [
            "logs/hourly/2026-11-23_22.excimer.index.log.gz".to_owned(),
            "svgs/hourly/2026-11-23_22.excimer.index.svgz".to_owned(),
        ]
        .into();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            usage(&spec(1, None), &logs, &svgs, &deleted),
            Usage {
                log_bytes: 307,
                graph_bytes: 30,
                logs: 3,
                graphs: 1,
                oldest: Some(at("2026-11-24T09:00:00Z")),
                newest: Some(at("2026-11-24T11:00:00Z")),
            }
        );
        assert_eq!(
            usage(&spec(1, None), &[], &[], &HashSet::new()),
            Usage::default()
        );
        // An entry point's log and graphs made from `all` on read are listed, not stored.
        let all = &logs[1];
        let derived = |path: &str| catalogue::derived_info(path.to_owned(), all);
        let mut with_derived = logs.clone();
        with_derived.push(derived("logs/hourly/2026-11-24_11.excimer.api.log.gz"));
        let mut graphs = svgs.clone();
        graphs.push(derived("svgs/hourly/2026-11-24_11.excimer.api.svgz"));
        assert_eq!(
            usage(&spec(1, None), &with_derived, &graphs, &deleted),
            usage(&spec(1, None), &logs, &svgs, &deleted)
        );
    }

    #[test]
    fn summaries_go_with_their_logs() {
        let logs = logs(&[
            "2026-11-24_09.excimer.all.log.gz",
            "2026-11-24_09.excimer.all.meta.json",
            "2026-11-24_09.excimer.all.range.gz",
            "2026-11-24_11.excimer.all.log.gz",
            "2026-11-24_11.excimer.all.meta.json",
            "2026-11-24_11.excimer.all.range.gz",
            "2026-11-24_05.excimer.api.meta.json",
            "2026-11-24_05.excimer.api.range.gz",
            // Roll-ups belong to their block's first window.
            "2026-11-24_08.excimer.all.rollup8.00000000000000ab.gz",
            "2026-11-24_09.excimer.all.rollup8.00000000000000ab.gz",
            "2026-11-24_11.excimer.all.rollup8.00000000000000ab.gz",
        ]);
        let mut doomed = plan(&spec(1, None), now(), &logs, &[], &HashSet::new());
        doomed.sort();
        assert_eq!(
            doomed,
            vec![
                "logs/hourly/2026-11-24_05.excimer.api.meta.json",
                "logs/hourly/2026-11-24_05.excimer.api.range.gz",
                "logs/hourly/2026-11-24_08.excimer.all.rollup8.00000000000000ab.gz",
                "logs/hourly/2026-11-24_09.excimer.all.log.gz",
                "logs/hourly/2026-11-24_09.excimer.all.meta.json",
                "logs/hourly/2026-11-24_09.excimer.all.range.gz",
                "logs/hourly/2026-11-24_09.excimer.all.rollup8.00000000000000ab.gz",
            ]
        );
    }

    #[test]
    fn never_touches_live_windows() {
        let logs = logs(&[
            "2026-11-24_11.excimer.all.log.gz",
            "2026-11-24_12.excimer.all.log.gz",
        ]);
        let svgs = vec![object("svgs/hourly/2026-11-24_12.excimer.index.svgz")];
        let live: HashSet<String> = ["2026-11-24_11".to_owned(), "2026-11-24_12".to_owned()].into();
        assert!(plan(
            &spec(1, Some(Duration::from_secs(1))),
            now(),
            &logs,
            &svgs,
            &live
        )
        .is_empty());
    }

    #[test]
    fn ignores_files_it_does_not_recognise() {
        let logs = logs(&[
            "README",
            "2026-13-45_99.excimer.all.log.gz",
            "2026-11-24_11.excimer.all.log.gz.corrupt",
        ]);
        assert!(plan(
            &spec(1, Some(Duration::from_secs(1))),
            now(),
            &logs,
            &[],
            &HashSet::new()
        )
        .is_empty());
    }
}
