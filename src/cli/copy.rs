//! `arclamp copy --from CONFIG --to CONFIG`: copy every object (logs, graphs, import
//! manifests) from one config's store to another's, e.g. local disk to Swift, verifying
//! each copy: sizes always, and for trace logs the decoded sample count. An object already
//! at the destination with the same size (and, for a log, the same sample count) is left as
//! it is, so a re-run after an interruption copies only what is missing or different.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};

use crate::config::Config;
use crate::store::storage::{ContentMeta, Storage};
use crate::store::{folded, layout};

/// Arguments of `arclamp copy`.
#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// Config whose store is read.
    #[arg(long, value_name = "CONFIG")]
    pub from: PathBuf,

    /// Config whose store is written.
    #[arg(long, value_name = "CONFIG")]
    pub to: PathBuf,

    /// Write a JSON report (what the summary says, in numbers) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CopyReport {
    /// Objects in the source store.
    pub objects: u64,
    /// Objects written to the destination.
    pub copied: u64,
    /// Objects already at the destination, verified equal.
    pub already_present: u64,
    /// Bytes written.
    pub bytes_copied: u64,
    /// Trace logs whose sample count was checked at the destination.
    pub logs_verified: u64,
    /// Samples in those logs.
    pub samples_verified: u64,
    /// Objects listed but gone before they could be read (retention ran meanwhile).
    pub vanished: u64,
    /// Copies that did not read back as written (size or samples): the run fails.
    pub mismatches: Vec<String>,
}

fn open(config: &Path) -> anyhow::Result<std::sync::Arc<dyn Storage>> {
    let loaded =
        Config::load(config).with_context(|| format!("invalid config {}", config.display()))?;
    super::open_stored_objects(&loaded)
}

/// Run `arclamp copy`.
pub fn run(args: CopyArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let from = open(&args.from)?;
    let to = open(&args.to)?;
    if from.describe() == to.describe() {
        bail!(
            "--from and --to name the same store ({}): nothing to copy",
            from.describe()
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(copy_all(from.as_ref(), to.as_ref()))?;
    eprintln!(
        "arclamp copy: {} -> {}: {} objects, {} copied ({} bytes), {} already there; \
         {} logs verified ({} samples); {} vanished; {} mismatches in {:.1} s",
        from.describe(),
        to.describe(),
        report.objects,
        report.copied,
        report.bytes_copied,
        report.already_present,
        report.logs_verified,
        report.samples_verified,
        report.vanished,
        report.mismatches.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.report {
        super::write_json_report(path, &report)?;
    }
    if !report.mismatches.is_empty() {
        bail!(
            "{} objects did not read back as written: {}; run the copy again",
            report.mismatches.len(),
            report.mismatches.join(", ")
        );
    }
    Ok(())
}

/// How an object is stored, from its path (and, for a log, its format).
fn meta_of(path: &str, bytes: &[u8]) -> ContentMeta {
    if layout::is_log_path(path) {
        ContentMeta::of_log(bytes)
    } else if path.starts_with("logs/") && path.ends_with(".range.gz") {
        ContentMeta::TRACE_LOG
    } else if path.ends_with(".svgz") {
        ContentMeta::SVGZ
    } else if path.ends_with(".json") {
        ContentMeta::JSON
    } else {
        ContentMeta {
            content_type: "application/octet-stream",
            content_encoding: None,
        }
    }
}

/// Samples in a trace log: the sum of its counts.
fn log_samples(path: &str, bytes: &[u8]) -> anyhow::Result<u64> {
    let text = folded::decode(bytes).with_context(|| format!("{path} is not a trace log"))?;
    Ok(crate::ingest::sample::lines(&text)
        .filter_map(folded::parse_line)
        .map(|(_, count)| count)
        .sum())
}

async fn copy_all(from: &dyn Storage, to: &dyn Storage) -> anyhow::Result<CopyReport> {
    let mut objects = from
        .list("")
        .await
        .with_context(|| format!("cannot list {}", from.describe()))?;
    objects.sort_by(|a, b| a.path.cmp(&b.path));
    let mut report = CopyReport {
        objects: objects.len() as u64,
        ..CopyReport::default()
    };
    let progress = super::progress_bar(objects.len() as u64, "objects");
    for object in &objects {
        progress.inc(1);
        let path = object.path.as_str();
        let Some(bytes) = from
            .get(path)
            .await
            .with_context(|| format!("cannot read {path}"))?
        else {
            report.vanished += 1;
            continue;
        };
        let meta = meta_of(path, &bytes);
        // Range summaries are gzip'd text too, but not logs: only their size is checked.
        let samples = if layout::is_log_path(path) {
            Some(log_samples(path, &bytes)?)
        } else {
            None
        };
        let present = to
            .stat(path)
            .await
            .with_context(|| format!("cannot stat {path} at the destination"))?;
        if present.is_some_and(|p| p.size == bytes.len() as u64)
            && verify(to, path, bytes.len() as u64, samples).await?.is_ok()
        {
            report.already_present += 1;
            if let Some(samples) = samples {
                report.logs_verified += 1;
                report.samples_verified += samples;
            }
            continue;
        }
        let size = bytes.len() as u64;
        to.put(path, bytes, meta)
            .await
            .with_context(|| format!("cannot write {path} to {}", to.describe()))?;
        report.copied += 1;
        report.bytes_copied += size;
        match verify(to, path, size, samples).await? {
            Ok(()) => {
                if let Some(samples) = samples {
                    report.logs_verified += 1;
                    report.samples_verified += samples;
                }
            }
            Err(what) => report.mismatches.push(format!("{path} ({what})")),
        }
    }
    progress.finish_and_clear();
    Ok(report)
}

/// Read `path` back from `to`: `Ok(Err(what))` when it differs from what was expected.
async fn verify(
    to: &dyn Storage,
    path: &str,
    size: u64,
    samples: Option<u64>,
) -> anyhow::Result<Result<(), String>> {
    let Some(info) = to
        .stat(path)
        .await
        .with_context(|| format!("cannot stat {path}"))?
    else {
        return Ok(Err("missing after the write".into()));
    };
    if info.size != size {
        return Ok(Err(format!("{} bytes instead of {size}", info.size)));
    }
    let Some(samples) = samples else {
        return Ok(Ok(()));
    };
    let Some(bytes) = to
        .get(path)
        .await
        .with_context(|| format!("cannot read {path} back"))?
    else {
        return Ok(Err("missing after the write".into()));
    };
    match log_samples(path, &bytes) {
        Ok(found) if found == samples => Ok(Ok(())),
        Ok(found) => Ok(Err(format!("{found} samples instead of {samples}"))),
        Err(e) => Ok(Err(e.to_string())),
    }
}
