//! `arclamp migrate [--config CONFIG]`: rewrite the trace logs an earlier release stored as
//! gzip'd folded text as packed traces ([`crate::store::packed`]), about 8 times smaller.
//! Each log is converted, checked (the packed trace holds exactly the stacks and counts of
//! the old log) and written over it under the same name; readers take either format, so a
//! half-migrated store is a valid store.
//!
//! Then each sample is stored once: an entry point's log that holds exactly the lines of
//! its window's `all` log whose first frame names it (what the earlier release wrote) is
//! deleted with its two graphs, and its summary written, so the service derives both from
//! `all` ([`crate::graphs::derived`]); one that differs (an Arc Lamp import whose files did
//! not agree) is left as stored, and reported.
//!
//! Idempotent and resumable: packed logs are left alone, so a second run (or a run after an
//! interruption) converts only what is left; an entry point's log is deleted only after its
//! summary is written. Logs modified within `--min-age` are skipped: a running service may
//! be rewriting them (its next checkpoint writes them packed anyway).

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use bytes::Bytes;

use std::collections::HashMap;

use crate::config::Config;
use crate::store::layout::{LogKey, ALL};
use crate::store::seal::{StoreOnceError, StoredOnce};
use crate::store::storage::{ContentMeta, ObjectInfo, Storage};
use crate::store::{folded, layout, packed, seal};

/// Arguments of `arclamp migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Config naming the store to migrate.
    #[arg(long, default_value = "config/arclamp.toml")]
    pub config: PathBuf,

    /// Leave logs modified more recently than this alone (a running service may be
    /// writing them), e.g. "1h", "0s".
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub min_age: Duration,

    /// Count what would be converted, write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Write a JSON report (what the summary says, in numbers) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. \"1h\", \"30m\", \"0s\")"))
}

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MigrateReport {
    /// Trace logs found.
    pub logs: u64,
    /// Logs converted to packed traces (with `--dry-run`: that would be).
    pub converted: u64,
    /// Logs already packed.
    pub already_packed: u64,
    /// Logs skipped because they were modified within `--min-age`.
    pub too_recent: u64,
    /// Logs listed but gone before they could be read (retention ran meanwhile).
    pub vanished: u64,
    /// Bytes of the converted logs before, and after.
    pub bytes_before: u64,
    /// Bytes of the converted logs after conversion.
    pub bytes_after: u64,
    /// Samples in the converted logs (the same before and after, checked).
    pub samples: u64,
    /// Entry points' logs found equal to their window's `all` log's lines and deleted
    /// (with their graphs): read from `all` from now on.
    pub entry_logs_derived: u64,
    /// Bytes of those logs (as stored before this run).
    pub entry_bytes_freed: u64,
    /// Entry points' logs that differ from their window's `all` log, left as stored.
    pub entry_logs_kept: Vec<String>,
    /// Logs that could not be converted (damaged), left as they are: the run fails.
    pub failed: Vec<String>,
}

/// Run `arclamp migrate`.
pub fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let loaded = Config::load(&args.config)
        .with_context(|| format!("invalid config {}", args.config.display()))?;
    let storage = super::open_stored_objects(&loaded)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(migrate(storage.as_ref(), args.min_age, args.dry_run))?;
    eprintln!(
        "arclamp migrate{}: {}: {} logs, {} converted ({} -> {} bytes, {} samples), {} already \
         packed, {} modified within {} (left alone), {} vanished, {} failed; {} entry-point logs \
         now read from all ({} bytes freed), {} differ from all (kept) in {:.1} s",
        if args.dry_run { " (dry run)" } else { "" },
        storage.describe(),
        report.logs,
        report.converted,
        report.bytes_before,
        report.bytes_after,
        report.samples,
        report.already_packed,
        report.too_recent,
        humantime::format_duration(args.min_age),
        report.vanished,
        report.failed.len(),
        report.entry_logs_derived,
        report.entry_bytes_freed,
        report.entry_logs_kept.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.report {
        super::write_json_report(path, &report)?;
    }
    if !report.failed.is_empty() {
        anyhow::bail!(
            "{} logs could not be converted and were left as they are: {}",
            report.failed.len(),
            report.failed.join(", ")
        );
    }
    Ok(())
}

async fn migrate(
    storage: &dyn Storage,
    min_age: Duration,
    dry_run: bool,
) -> anyhow::Result<MigrateReport> {
    let mut logs: Vec<_> = storage
        .list("logs/")
        .await
        .with_context(|| format!("cannot list {}", storage.describe()))?
        .into_iter()
        .filter(|o| layout::is_log_path(&o.path))
        .collect();
    logs.sort_by(|a, b| a.path.cmp(&b.path));
    let mut report = MigrateReport {
        logs: logs.len() as u64,
        ..MigrateReport::default()
    };
    let now = SystemTime::now();
    let progress = super::progress_bar(logs.len() as u64, "logs");
    for log in &logs {
        progress.inc(1);
        let path = log.path.as_str();
        if too_recent(log, now, min_age) {
            report.too_recent += 1;
            continue;
        }
        let Some(bytes) = storage
            .get(path)
            .await
            .with_context(|| format!("cannot read {path}"))?
        else {
            report.vanished += 1;
            continue;
        };
        if packed::is_packed(&bytes) {
            report.already_packed += 1;
            continue;
        }
        let (trace, samples) = match convert(&bytes) {
            Ok(converted) => converted,
            Err(error) => {
                report.failed.push(format!("{path} ({error})"));
                continue;
            }
        };
        report.converted += 1;
        report.bytes_before += bytes.len() as u64;
        report.bytes_after += trace.len() as u64;
        report.samples += samples;
        if !dry_run {
            storage
                .put(path, Bytes::from(trace), ContentMeta::PACKED_TRACE)
                .await
                .with_context(|| format!("cannot write {path} to {}", storage.describe()))?;
        }
    }
    progress.finish_and_clear();
    store_once(storage, &logs, min_age, dry_run, &mut report).await?;
    Ok(report)
}

/// Whether `object` was modified within `min_age` of `now` (a running service may be
/// writing it: `--min-age`).
fn too_recent(object: &ObjectInfo, now: SystemTime, min_age: Duration) -> bool {
    now.duration_since(object.modified).unwrap_or_default() < min_age
}

/// Delete each entry point's log (and graphs) that its window's `all` log holds, after
/// writing its summary; see the module documentation. `logs` is the listing taken before
/// conversion (its times say what a running service may be writing).
async fn store_once(
    storage: &dyn Storage,
    logs: &[ObjectInfo],
    min_age: Duration,
    dry_run: bool,
    report: &mut MigrateReport,
) -> anyhow::Result<()> {
    let now = SystemTime::now();
    let recent = |o: &ObjectInfo| too_recent(o, now, min_age);
    let key_of = |o: &ObjectInfo| {
        let (period, name) = o.path.strip_prefix("logs/")?.split_once('/')?;
        LogKey::from_log_name(period, name)
    };
    let listed: HashMap<String, &ObjectInfo> = logs.iter().map(|o| (o.path.clone(), o)).collect();
    let entries: Vec<(LogKey, &ObjectInfo)> = logs
        .iter()
        .filter_map(|o| key_of(o).map(|key| (key, o)))
        .filter(|(key, _)| key.entry != ALL)
        .collect();
    let progress = super::progress_bar(entries.len() as u64, "entry-point logs");
    // One window's `all` log at a time (entries are listed window by window).
    let mut all_log: Option<(String, Bytes)> = None;
    for (key, entry_info) in entries {
        progress.inc(1);
        let path = key.log_path();
        let all_path = key.all().log_path();
        let Some(all_info) = listed.get(&all_path) else {
            continue;
        };
        if recent(entry_info)
            || recent(all_info)
            || report.failed.iter().any(|f| f.starts_with(&path))
        {
            continue;
        }
        if all_log.as_ref().is_none_or(|(p, _)| *p != all_path) {
            all_log = storage
                .get(&all_path)
                .await
                .with_context(|| format!("cannot read {all_path}"))?
                .map(|bytes| (all_path.clone(), bytes));
        }
        let (Some((_, all)), Some(stored)) = (
            all_log.as_ref(),
            storage
                .get(&path)
                .await
                .with_context(|| format!("cannot read {path}"))?,
        ) else {
            report.vanished += 1;
            continue;
        };
        match seal::store_once(storage, &key, all, &stored, dry_run).await {
            Ok(StoredOnce::Derived) => {
                report.entry_logs_derived += 1;
                report.entry_bytes_freed += stored.len() as u64;
            }
            Ok(StoredOnce::Differs) => report
                .entry_logs_kept
                .push(format!("{path} (differs from {all_path})")),
            Err(StoreOnceError::Damaged(error)) => report.failed.push(format!("{path} ({error})")),
            Err(StoreOnceError::Storage(error)) => {
                return Err(error).with_context(|| format!("cannot store {path} once"))
            }
        }
    }
    progress.finish_and_clear();
    Ok(())
}
/// The packed trace of a folded log (gzip'd or plain), and its samples, checked: it decodes
/// to exactly the old log's stacks and counts.
fn convert(log: &[u8]) -> anyhow::Result<(Vec<u8>, u64)> {
    let text = folded::decode(log).context("not a trace log")?;
    let counted = folded::aggregate(&text);
    let trace = packed::encode(counted.stacks.iter().copied());
    let mut expected = counted.stacks.iter();
    let mut same = true;
    packed::for_each_stack(&trace, |stack, count| {
        same &= expected.next() == Some(&(stack, count));
    })
    .context("the packed trace does not read back")?;
    anyhow::ensure!(
        same && expected.next().is_none(),
        "the packed trace differs from the log"
    );
    Ok((trace, counted.total()))
}
