//! `arclamp import DIR`: bring an existing Arc Lamp host's data directory into the
//! configured store as arclamp's trace logs, and render their graphs. See
//! [`crate::store::import`] for the name mapping, the line contract and why a second run (or a run
//! after an interrupted one) never counts a sample twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use bytes::Bytes;
use chrono::Utc;

use crate::config::Config;
use crate::graphs::window_graphs::{render_stored_window, WindowState};
use crate::ingest::window::Period;
use crate::store::compress;
use crate::store::import::{self, ImportedSource, LineTally, LogBuilder, Manifest};
use crate::store::layout::{LogKey, ALL};
use crate::store::seal::{self, StoredOnce};
use crate::store::storage::{ContentMeta, Storage};

/// Arguments of `arclamp import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The Arc Lamp data directory: it holds `logs/{hourly,daily}/` (or is that `logs/`).
    pub dir: PathBuf,

    /// Config file naming the store and the periods; `ARCLAMP__*` variables override it.
    #[arg(long, default_value = "config/arclamp.toml")]
    pub config: PathBuf,

    /// What to do with a trace log that already holds data this import did not write (the
    /// service ran then too, or an earlier run was interrupted): `skip` it (the default:
    /// never count a sample twice), `merge` the sources into it, or `replace` it with
    /// exactly the sources found in DIR.
    #[arg(long, value_enum, default_value_t = OnExisting::Skip)]
    pub on_existing: OnExisting,

    /// Also import the windows in progress now. Only with the service stopped: a running
    /// service holds those windows in memory and would overwrite the import.
    #[arg(long)]
    pub include_current: bool,

    /// Leave the graphs to the service's start-up scan (logs newer than their graphs).
    #[arg(long)]
    pub no_render: bool,

    /// Write a JSON report (what the summary says, in numbers) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Policy for trace logs holding data the import did not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnExisting {
    /// Leave the log alone and report it.
    Skip,
    /// Add the sources to what is there.
    Merge,
    /// Rebuild the log from exactly the sources found in DIR.
    Replace,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportReport {
    /// Source files recognized (by period directory and name).
    pub files: u64,
    /// Files merged into a trace log by this run.
    pub imported: u64,
    /// Files skipped because an earlier run imported them, unchanged.
    pub already_imported: u64,
    /// Files not imported, by reason (`changed_since_import`, `existing_data`,
    /// `current_window`, `unknown_period`, `unrecognized_name`, `unreadable`).
    pub skipped: BTreeMap<String, u64>,
    /// Lines of the imported files: samples and rejected lines by reason.
    pub lines: LineTally,
    /// Trace logs written.
    pub logs_written: u64,
    /// Graphs rendered.
    pub graphs: u64,
    /// Entry points' logs written and then found to hold exactly their window's `all`
    /// log's lines for them (as Arc Lamp wrote them): deleted, read from `all`, so each
    /// sample is stored once.
    pub entry_logs_stored_once: u64,
    /// Entry points' logs that differ from their window's `all` log (kept as imported).
    pub entry_logs_differ: Vec<String>,
}

impl ImportReport {
    fn skip(&mut self, reason: &str, files: u64) {
        *self.skipped.entry(reason.to_owned()).or_insert(0) += files;
    }
}

/// A source file found in DIR.
struct Source {
    /// Relative to DIR, `/`-separated.
    relative: String,
    path: PathBuf,
}

/// Run `arclamp import`.
pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = Config::load(&args.config)
        .with_context(|| format!("invalid config {}", args.config.display()))?;
    let periods: Vec<Period> = config
        .period_specs()?
        .into_iter()
        .map(|spec| spec.period)
        .collect();
    let mut report = ImportReport::default();
    let groups = find_sources(&args.dir, &periods, &mut report)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let storage = super::open_storage(&config)?;
    let settings = config.render.settings(&config.top.skip);
    let now = Utc::now();
    let progress = super::progress_bar(groups.values().map(|s| s.len() as u64).sum(), "files");
    let mut written = Vec::new();
    for (key, sources) in &groups {
        let period = periods.iter().find(|p| p.name() == key.period);
        let current = period.is_some_and(|p| p.window_at(now).name == key.window);
        if current && !args.include_current {
            report.skip("current_window", sources.len() as u64);
        } else if runtime.block_on(import_log(
            storage.as_ref(),
            key,
            sources,
            &args,
            config.aggregation.max_depth,
            &mut report,
        ))? {
            written.push((key, period));
        }
        progress.inc(sources.len() as u64);
    }
    progress.finish_and_clear();
    // Every window's logs first: an entry point's log that its `all` log holds is not kept,
    // then each written log is rendered (from `all`, for those).
    for (key, _) in written.iter().filter(|(key, _)| key.entry != ALL) {
        runtime.block_on(store_once(storage.as_ref(), key, &mut report))?;
    }
    for (key, period) in written.iter().filter(|_| !args.no_render) {
        let written = runtime
            .block_on(render_stored_window(
                storage.as_ref(),
                key,
                *period,
                &settings,
                WindowState::at(*period, &key.window, chrono::Utc::now()),
            ))
            .with_context(|| format!("cannot render the graphs of {}", key.log_path()))?;
        report.graphs += written.graphs as u64;
    }
    eprintln!(
        "{}",
        summary(&report, &args.dir, &storage.describe(), started)
    );
    if let Some(path) = &args.report {
        super::write_json_report(path, &report)?;
    }
    Ok(())
}

/// The entry point's log at `key` just imported, stored once when its window's `all` log
/// holds it ([`seal::store_once`]).
async fn store_once(
    storage: &dyn Storage,
    key: &LogKey,
    report: &mut ImportReport,
) -> anyhow::Result<()> {
    let path = key.log_path();
    let all_path = key.all().log_path();
    let (Some(all), Some(stored)) = (storage.get(&all_path).await?, storage.get(&path).await?)
    else {
        return Ok(());
    };
    match seal::store_once(storage, key, &all, &stored, false).await {
        Ok(StoredOnce::Derived) => report.entry_logs_stored_once += 1,
        Ok(StoredOnce::Differs) => report
            .entry_logs_differ
            .push(format!("{path} (differs from {all_path})")),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot store {path} once"));
        }
    }
    Ok(())
}

/// Source files under DIR grouped by the trace log they go to.
fn find_sources(
    dir: &Path,
    periods: &[Period],
    report: &mut ImportReport,
) -> anyhow::Result<BTreeMap<LogKey, Vec<Source>>> {
    let logs = if dir.join("logs").is_dir() {
        dir.join("logs")
    } else {
        dir.to_path_buf()
    };
    let entries = std::fs::read_dir(&logs).with_context(|| {
        format!(
            "cannot read {}: give the Arc Lamp data directory (the one holding logs/hourly/)",
            logs.display()
        )
    })?;
    let mut groups: BTreeMap<LogKey, Vec<Source>> = BTreeMap::new();
    let mut period_dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    period_dirs.sort();
    for period_dir in period_dirs {
        let period = period_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&period_dir)
            .with_context(|| format!("cannot read {}", period_dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let configured = periods.iter().any(|p| p.name() == period);
        for path in files {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(key) = import::target_of(&period, &name) else {
                report.skip("unrecognized_name", 1);
                continue;
            };
            report.files += 1;
            if !configured {
                report.skip("unknown_period", 1);
                continue;
            }
            let relative = format!("logs/{period}/{name}");
            groups
                .entry(key)
                .or_default()
                .push(Source { relative, path });
        }
    }
    Ok(groups)
}

/// Merge the sources of one trace log that are not in its manifest yet; true when the log
/// was written.
async fn import_log(
    storage: &dyn Storage,
    key: &LogKey,
    sources: &[Source],
    args: &ImportArgs,
    max_depth: usize,
    report: &mut ImportReport,
) -> anyhow::Result<bool> {
    let log_path = key.log_path();
    let manifest_path = import::manifest_path(key);
    let manifest: Manifest = match storage.get(&manifest_path).await? {
        Some(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{manifest_path} is not an import manifest: delete it to import {log_path} again"
            )
        })?,
        None => Manifest::default(),
    };
    let existing = storage.get(&log_path).await?;
    let ours = existing
        .as_ref()
        .is_some_and(|bytes| import::content_hash(bytes) == manifest.log_xxh3);
    let (mut base, mut todo): (Option<Bytes>, Vec<(&Source, Vec<u8>)>) = (None, Vec::new());
    let replace = existing.is_some() && !ours && args.on_existing == OnExisting::Replace;
    let mut manifest = if replace {
        Manifest::default()
    } else {
        manifest
    };
    for source in sources {
        let bytes = match std::fs::read(&source.path) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("arclamp import: skipping {}: {e}", source.path.display());
                report.skip("unreadable", 1);
                continue;
            }
        };
        match manifest.source(&source.relative) {
            Some(done) if done.xxh3 == import::content_hash(&bytes) => report.already_imported += 1,
            Some(_) => {
                eprintln!(
                    "arclamp import: {} changed since it was imported into {log_path}; \
                     its first import is kept (use --on-existing replace after deleting \
                     {manifest_path} to rebuild the log from the files as they are now)",
                    source.relative
                );
                report.skip("changed_since_import", 1);
            }
            None => todo.push((source, bytes)),
        }
    }
    if todo.is_empty() {
        return Ok(false);
    }
    if let Some(existing) = existing {
        match (ours, args.on_existing) {
            (true, _) | (false, OnExisting::Merge) => base = Some(existing),
            (false, OnExisting::Replace) => {}
            (false, OnExisting::Skip) => {
                eprintln!(
                    "arclamp import: {log_path} already holds data this import did not write \
                     (the service ran in that window, or an earlier import was interrupted); \
                     left alone: --on-existing merge adds the Arc Lamp files to it, \
                     --on-existing replace rebuilds it from them"
                );
                report.skip("existing_data", todo.len() as u64);
                return Ok(false);
            }
        }
    }
    let mut builder = LogBuilder::new();
    if let Some(base) = base {
        let text = compress::maybe_gunzip(&base)
            .with_context(|| format!("{log_path} in the store is not a trace log"))?;
        builder.merge_log(&text);
    }
    for (source, bytes) in todo {
        let text = match compress::maybe_gunzip(&bytes) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("arclamp import: skipping {}: {e}", source.relative);
                report.skip("unreadable", 1);
                continue;
            }
        };
        let tally = builder.add_source(&text, max_depth);
        manifest.sources.push(ImportedSource {
            path: source.relative.clone(),
            xxh3: import::content_hash(&bytes),
            samples: tally.samples,
        });
        report.lines.add(&tally);
        report.imported += 1;
    }
    let encoded = builder.encode();
    manifest.log_xxh3 = import::content_hash(&encoded.bytes);
    storage
        .put(
            &log_path,
            Bytes::from(encoded.bytes),
            ContentMeta::PACKED_TRACE,
        )
        .await
        .with_context(|| format!("cannot write {log_path}"))?;
    let json = serde_json::to_vec_pretty(&manifest).context("cannot encode the manifest")?;
    storage
        .put(&manifest_path, Bytes::from(json), ContentMeta::JSON)
        .await
        .with_context(|| format!("cannot write {manifest_path}"))?;
    report.logs_written += 1;
    Ok(true)
}

fn summary(report: &ImportReport, dir: &Path, store: &str, started: Instant) -> String {
    let skipped: u64 = report.skipped.values().sum();
    let rejected: u64 = report.lines.rejected.values().sum();
    let mut text = format!(
        "arclamp import: {} -> {store}: {} source files, {} imported, {} already imported, \
         {skipped} skipped {:?}; {} lines, {} samples, {rejected} lines rejected {:?}; \
         {} logs written, {} graphs rendered, {} entry-point logs read from all from now on \
         ({} differ from all: kept) in {:.1} s",
        dir.display(),
        report.files,
        report.imported,
        report.already_imported,
        report.skipped,
        report.lines.lines,
        report.lines.samples,
        report.lines.rejected,
        report.logs_written,
        report.graphs,
        report.entry_logs_stored_once,
        report.entry_logs_differ.len(),
        started.elapsed().as_secs_f64()
    );
    if report.skipped.contains_key("current_window") {
        text.push_str(
            "\nwindows in progress were not imported (the running service owns them): stop \
             the service and re-run with --include-current, or re-run once they have ended",
        );
    }
    text
}
