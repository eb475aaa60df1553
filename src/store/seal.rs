//! Sealing a window: many partial logs of one window (the committed sections of an hour,
//! or the hourly logs of a day) merged into its final `all` log, and the log of each entry
//! point derived from it, as the pub/sub aggregators would have counted them. Also the one
//! way a window's log is written to storage ([`write_log`]): `all`'s log with its summary,
//! an entry point's summary only (its log is `all`'s lines for it, [`entry_logs`], read on
//! request by [`crate::graphs::derived`]).
//!
//! Entry points are derived from the stacks (the first frame names the entry point), so
//! every replica derives the same ones; when a window has more than `max_entry_points`,
//! those with the most samples get a log of their own (ties by name) and the others are
//! counted in `all` only.

use std::collections::HashMap;

use bytes::Bytes;

use crate::ingest::sample::{self, entry_point};
use crate::ingest::stacks::StackTable;
use crate::store::aggregate::{Encoded, WindowCounts};
use crate::store::catalogue::{self, LogSummary};
use crate::store::compress::{self, GunzipError};
use crate::store::folded;
use crate::store::layout::LogKey;
use crate::store::packed;
use crate::store::retention::{self, PeriodSpec, HOURLY};
use crate::store::segment::SectionRef;
use crate::store::storage::{ContentMeta, Storage, StorageError};

/// A window's final logs.
pub struct SealedLogs {
    /// Entry point `all`: every sample.
    pub all: Encoded,
    /// Each entry point's log, by name.
    pub entries: Vec<(String, Encoded)>,
    /// Lines of the inputs that were not `STACK COUNT` (none in logs arclamp wrote).
    pub malformed_lines: u64,
}

impl SealedLogs {
    /// Every log by entry point, `all` first; none when the window holds no stack (there
    /// is nothing to write or serve).
    pub fn logs(self) -> impl Iterator<Item = (String, Encoded)> {
        let any = self.all.stacks > 0;
        std::iter::once((sample::ALL.to_owned(), self.all))
            .chain(self.entries)
            .filter(move |_| any)
    }
}

/// Merge `inputs` (trace logs, gzip'd or plain, in any order) into one window's logs.
pub fn merge(
    inputs: impl IntoIterator<Item = impl AsRef<[u8]>>,
    max_entry_points: usize,
) -> Result<SealedLogs, GunzipError> {
    let mut table = StackTable::new();
    let mut counts = WindowCounts::new();
    let mut malformed_lines = 0;
    for input in inputs {
        let text = compress::maybe_gunzip(input.as_ref())?;
        malformed_lines += counts.merge_folded(&mut table, &text);
    }
    let all = counts.encode(&table);
    counts.release_all(&mut table);
    drop(table);
    let entries = split_entries(&all.bytes, max_entry_points)?;
    Ok(SealedLogs {
        all,
        entries,
        malformed_lines,
    })
}

/// The log of each entry point found in a sorted `all` log: the lines whose first frame
/// names it, in the same (sorted) order. At most `max_entry_points` of them, those with the
/// most samples, ties by name. They are compressed for reading, not storing: only their
/// summaries are stored ([`write_log`]).
pub fn split_entries(
    all: &[u8],
    max_entry_points: usize,
) -> Result<Vec<(String, Encoded)>, GunzipError> {
    let mut totals: HashMap<String, u64> = HashMap::new();
    for_each_stack(all, |stack, count| {
        if let Some(entry) = entry_point(stack) {
            match totals.get_mut(entry) {
                Some(total) => *total = total.saturating_add(count),
                None => {
                    totals.insert(entry.to_owned(), count);
                }
            }
        }
    })?;
    let mut ranked: Vec<(String, u64)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(max_entry_points);
    let kept: std::collections::HashSet<String> =
        ranked.into_iter().map(|(name, _)| name).collect();
    entry_logs(
        all,
        |entry| kept.contains(entry),
        |writer| writer.finish_at(packed::TRANSIENT_LEVEL),
    )
}

/// The log of every entry point `wanted` accepts in the `all` log `all` (a packed trace,
/// or folded text gzip'd or plain), by name: its lines whose first frame names that entry
/// point ([`entry_point`]), in the same order, each log made by `finish` (the stored level,
/// or [`packed::TRANSIENT_LEVEL`] for one read once). This is what an entry point's log
/// *is*: [`crate::graphs::derived`] makes it on read instead of storing it again.
pub fn entry_logs(
    all: &[u8],
    wanted: impl Fn(&str) -> bool,
    finish: impl Fn(packed::Writer) -> Vec<u8>,
) -> Result<Vec<(String, Encoded)>, GunzipError> {
    let mut logs: std::collections::BTreeMap<String, (packed::Writer, usize, u64)> =
        Default::default();
    for_each_stack(all, |stack, count| {
        let Some(entry) = entry_point(stack).filter(|entry| wanted(entry)) else {
            return;
        };
        if !logs.contains_key(entry) {
            logs.insert(entry.to_owned(), (packed::Writer::new(), 0, 0));
        }
        if let Some((writer, stacks, samples)) = logs.get_mut(entry) {
            writer.push(stack, count);
            *stacks += 1;
            *samples = samples.saturating_add(count);
        }
    })?;
    Ok(logs
        .into_iter()
        .map(|(name, (writer, stacks, samples))| {
            let bytes = finish(writer);
            (
                name,
                Encoded {
                    bytes,
                    stacks,
                    samples,
                },
            )
        })
        .collect())
}

/// What [`store_once`] did with an entry point's stored log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredOnce {
    /// It held exactly `all`'s lines for its entry point: deleted (with its graphs), read
    /// from `all` from now on.
    Derived,
    /// It differs from `all`'s lines for its entry point: left as stored.
    Differs,
}

/// [`store_once`] could not decide or finish.
#[derive(Debug, thiserror::Error)]
pub enum StoreOnceError {
    /// The entry point's log or the `all` log is not a readable trace log.
    #[error("{0}")]
    Damaged(String),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Store the samples of entry point `key`'s stored log (`stored`, its bytes) once: when it
/// holds exactly the lines of its window's `all` log (`all`, its bytes) that name the entry
/// point, write its summary, delete its two graphs, its range summary and function totals
/// (made from the stored log, they do not match the derived one: the renderer makes them
/// again) and then the log, so that readers derive it from `all`
/// ([`crate::graphs::derived`]); otherwise leave it as stored (it shadows the derived one).
/// In that order, so an interruption leaves a valid store and a second call finishes the
/// work. `dry_run` decides without writing.
pub async fn store_once(
    storage: &dyn Storage,
    key: &LogKey,
    all: &[u8],
    stored: &[u8],
    dry_run: bool,
) -> Result<StoredOnce, StoreOnceError> {
    let derived = entry_logs(
        all,
        |entry| entry == key.entry,
        |writer| writer.finish_at(packed::TRANSIENT_LEVEL),
    )
    .map_err(|e| StoreOnceError::Damaged(format!("the all log: {e}")))?
    .pop()
    .map(|(_, log)| log);
    let same = same_stacks(derived.as_ref().map(|log| log.bytes.as_slice()), stored)
        .map_err(StoreOnceError::Damaged)?;
    if !same {
        return Ok(StoredOnce::Differs);
    }
    if dry_run {
        return Ok(StoredOnce::Derived);
    }
    let summary = derived.as_ref().map(summary).unwrap_or(LogSummary {
        samples: 0,
        stacks: 0,
    });
    put_summary(storage, key, &summary).await?;
    for reversed in [false, true] {
        let graph = key.svg_path(&crate::store::layout::GraphKind {
            function: None,
            reversed,
        });
        storage.delete(&graph).await?;
    }
    storage.delete(&catalogue::range_summary_path(key)).await?;
    storage
        .delete(&catalogue::function_totals_path(key))
        .await?;
    storage.delete(&key.log_path()).await?;
    Ok(StoredOnce::Derived)
}

/// Whether the trace log `stored` (packed, or folded text gzip'd or plain) holds exactly
/// the stacks and counts of the packed trace `derived` (`None`: no stack at all).
fn same_stacks(derived: Option<&[u8]>, stored: &[u8]) -> Result<bool, String> {
    let mut reader = derived
        .map(packed::StackReader::open)
        .transpose()
        .map_err(|e| e.to_string())?;
    let mut same = true;
    for_each_stack(stored, |stack, count| {
        if !same {
            return;
        }
        same = match reader.as_mut().map(|r| r.next_stack()) {
            Some(Ok(Some((s, c)))) => s == stack && c == count,
            _ => false,
        };
    })
    .map_err(|e| format!("not a trace log: {e}"))?;
    let exhausted = match reader.as_mut() {
        Some(reader) => reader.next_stack().map_err(|e| e.to_string())?.is_none(),
        None => true,
    };
    Ok(same && exhausted)
}

/// Call `f(stack, count)` for every line of the trace log `log` (a packed trace, or folded
/// text gzip'd or plain; lines that are not `STACK COUNT` are skipped), in its order.
pub fn for_each_stack(log: &[u8], mut f: impl FnMut(&[u8], u64)) -> Result<(), GunzipError> {
    if packed::is_packed(log) {
        packed::for_each_stack(log, f)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        return Ok(());
    }
    let text = compress::maybe_gunzip(log)?;
    for line in sample::lines(&text) {
        if let Some((stack, count)) = folded::parse_line(line) {
            f(stack, count);
        }
    }
    Ok(())
}

/// A window's inputs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The ledger indexes a segment the store does not have (deleted by hand?).
    #[error("segment {0} is indexed but missing from the store")]
    MissingSegment(String),
    /// A segment's section is not where its index says.
    #[error("{path}: {error}")]
    DamagedSection {
        /// The segment.
        path: String,
        /// What is wrong.
        error: String,
    },
    /// A window name that is not one of its period's.
    #[error("{0:?} is not a window of its period")]
    NotAWindow(String),
    /// Stream mode without an hourly period (refused by the config check).
    #[error("no hourly period")]
    NoHourlyPeriod,
}

/// Add the bytes of `sections` (each in its segment in `storage`) to `inputs`.
pub async fn read_sections(
    storage: &dyn Storage,
    sections: &[(String, SectionRef)],
    inputs: &mut Vec<Bytes>,
) -> Result<(), ReadError> {
    let mut segments: HashMap<&str, Bytes> = HashMap::new();
    for (path, section) in sections {
        if !segments.contains_key(path.as_str()) {
            let bytes = storage
                .get(path)
                .await?
                .ok_or_else(|| ReadError::MissingSegment(path.clone()))?;
            segments.insert(path, bytes);
        }
        let segment = &segments[path.as_str()];
        let bytes = section
            .bytes(segment)
            .map_err(|e| ReadError::DamagedSection {
                path: path.clone(),
                error: e.to_string(),
            })?;
        inputs.push(segment.slice_ref(bytes));
    }
    Ok(())
}

/// Add the sealed `all` log of hour `hour` of `channel` to `inputs`, if it has one.
pub async fn read_sealed_hour(
    storage: &dyn Storage,
    channel: &str,
    hour: &str,
    inputs: &mut Vec<Bytes>,
) -> Result<(), ReadError> {
    let key = LogKey {
        period: HOURLY.into(),
        window: hour.to_owned(),
        channel: channel.to_owned(),
        entry: sample::ALL.into(),
    };
    if let Some(log) = storage.get(&key.log_path()).await? {
        inputs.push(log);
    }
    Ok(())
}

/// The names of the hourly windows that window `window_name` of `spec` spans.
pub fn hours_of(
    periods: &[PeriodSpec],
    spec: &PeriodSpec,
    window_name: &str,
) -> Result<Vec<String>, ReadError> {
    if spec.period.name() == HOURLY {
        return Ok(vec![window_name.to_owned()]);
    }
    let window = spec
        .period
        .window_named(window_name)
        .ok_or_else(|| ReadError::NotAWindow(window_name.to_owned()))?;
    let hourly = &retention::hourly(periods)
        .ok_or(ReadError::NoHourlyPeriod)?
        .period;
    let mut hours = Vec::new();
    let mut at = window.start;
    while at < window.end {
        let hour = hourly.window_at(at);
        at = hour.end;
        hours.push(hour.name);
    }
    Ok(hours)
}

/// [`merge`] on a blocking thread, off the caller's.
pub async fn merge_blocking(
    inputs: Vec<Bytes>,
    max_entry_points: usize,
) -> Result<SealedLogs, String> {
    tokio::task::spawn_blocking(move || merge(&inputs, max_entry_points))
        .await
        .map_err(|e| format!("merging thread failed: {e}"))?
        .map_err(|e| format!("a section or hourly log is damaged: {e}"))
}

/// Write `summary` as the `.meta.json` of `key`'s log.
async fn put_summary(
    storage: &dyn Storage,
    key: &LogKey,
    summary: &LogSummary,
) -> Result<(), StorageError> {
    storage
        .put(
            &catalogue::summary_path(key),
            Bytes::from(summary.encode()),
            ContentMeta::JSON,
        )
        .await
}

/// What a log's summary (`.meta.json`) records of it.
pub fn summary(log: &Encoded) -> LogSummary {
    LogSummary {
        samples: log.samples,
        stacks: log.stacks as u64,
    }
}

/// What is written for entry point `key` (not `all`): its summary, which says the window
/// has the entry point (readers derive its log from `all`, see [`crate::graphs::derived`]),
/// then a log an earlier release stored for it is deleted so that it cannot shadow the
/// derived one.
pub async fn write_entry_summary(
    storage: &dyn Storage,
    key: &LogKey,
    summary: &LogSummary,
) -> Result<(), StorageError> {
    put_summary(storage, key, summary).await?;
    storage.delete(&key.log_path()).await
}

/// Write `log` as the trace log of `key`, then its summary (`.meta.json`), which lets pages
/// count samples without decompressing the log. Written in that order, so a failure
/// retries both.
///
/// Every sample is stored once: for an entry point other than `all`, only the summary is
/// written ([`write_entry_summary`]; `log`'s bytes are not used).
pub async fn write_log(
    storage: &dyn Storage,
    key: &LogKey,
    log: Encoded,
) -> Result<LogSummary, StorageError> {
    let summary = summary(&log);
    if key.entry != sample::ALL {
        write_entry_summary(storage, key, &summary).await?;
        return Ok(summary);
    }
    storage
        .put(
            &key.log_path(),
            Bytes::from(log.bytes),
            ContentMeta::PACKED_TRACE,
        )
        .await?;
    put_summary(storage, key, &summary).await?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(text: &str) -> Vec<u8> {
        compress::gzip(text.as_bytes())
    }

    fn text(log: &Encoded) -> String {
        String::from_utf8(compress::maybe_gunzip(&log.bytes).unwrap().into_owned()).unwrap()
    }

    #[test]
    fn sections_merge_into_the_sorted_sum_with_each_entry_point_derived() {
        let inputs = [
            gz("/w/index.php;A 2\n/w/api.php;B 1\nno;entry 4\n"),
            gz("/w/api.php;B 3\n/w/index.php;A;C 1\n"),
            b"/w/index.php;A 5\n".to_vec(),
        ];
        let sealed = merge(&inputs, 64).unwrap();
        assert_eq!(
            text(&sealed.all),
            "/w/api.php;B 4\n/w/index.php;A 7\n/w/index.php;A;C 1\nno;entry 4\n"
        );
        assert_eq!((sealed.all.samples, sealed.all.stacks), (16, 4));
        let entries: Vec<(&str, String, u64)> = sealed
            .entries
            .iter()
            .map(|(name, log)| (name.as_str(), text(log), log.samples))
            .collect();
        assert_eq!(
            entries,
            vec![
                ("api", "/w/api.php;B 4\n".to_owned(), 4),
                (
                    "index",
                    "/w/index.php;A 7\n/w/index.php;A;C 1\n".to_owned(),
                    8
                ),
            ]
        );
        assert_eq!(sealed.malformed_lines, 0);
    }

    #[test]
    fn past_the_limit_the_busiest_entry_points_get_logs() {
        let all = gz("/w/a.php;x 1\n/w/b.php;x 5\n/w/c.php;x 5\n/w/d.php;x 2\n");
        let names: Vec<String> = split_entries(&all, 2)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["b", "c"]);
        assert!(split_entries(&all, 0).unwrap().is_empty());
    }

    #[test]
    fn a_damaged_input_is_an_error_not_a_panic() {
        let mut bad = gz("a 1\n");
        bad.truncate(bad.len() - 4);
        assert!(merge([bad], 8).is_err());
    }
}
