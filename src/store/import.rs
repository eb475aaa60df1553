//! Importing an existing Arc Lamp data directory: which source files map to which
//! arclamp trace log, how their lines are read and counted, and the import manifest that
//! makes a second run add nothing.
//!
//! Source names are the original Arc Lamp's: `logs/{period}/{window}.{channel}.{entry}.log`
//! or, from before channels were named, `{window}.{entry}.log` (channel `excimer`), plain or
//! `.log.gz`. Lines are Excimer's `STACK COUNT`, one per sample or already aggregated, in any
//! order; each is checked with [`crate::ingest::sample::parse_line`], and a line it rejects is
//! counted by reason, never fatal.
//!
//! Idempotence: next to each trace log the import touched, an import manifest
//! (`imports/{period}/{window}.{channel}.{entry}.json`) lists the source files merged into
//! it (path, xxh3-128 and samples) and the xxh3-128 of the log as the import left it. A
//! source already listed is not merged again. A log whose bytes no longer match its
//! manifest (or that has no manifest) holds data the import did not write (the live service,
//! or an interrupted run), and is left alone unless the operator asks for `merge` or
//! `replace`; so an interrupted or repeated run can never count a sample twice.

use std::collections::BTreeMap;

use crate::ingest::sample::{self, Limits};
use crate::ingest::stacks::StackTable;
use crate::store::aggregate::{Encoded, WindowCounts};
use crate::store::layout::LogKey;

/// The channel of source files whose name has none (Arc Lamp before channels were named).
pub const DEFAULT_CHANNEL: &str = "excimer";

/// Where a source file goes, read from its period directory and file name.
pub fn target_of(period: &str, file_name: &str) -> Option<LogKey> {
    let stem = file_name
        .strip_suffix(".log.gz")
        .or_else(|| file_name.strip_suffix(".log"))?;
    let (window, rest) = stem.split_once('.')?;
    let (channel, entry) = rest.rsplit_once('.').unwrap_or((DEFAULT_CHANNEL, rest));
    let key = LogKey {
        period: period.to_owned(),
        window: window.to_owned(),
        channel: channel.to_owned(),
        entry: entry.to_owned(),
    };
    // Reuse the layout's own well-formedness rules: the name must round-trip.
    LogKey::from_log_name(period, crate::store::layout::file_name(&key.log_path()))
        .filter(|k| *k == key)
}

/// The import manifest's path for a trace log.
pub fn manifest_path(key: &LogKey) -> String {
    format!(
        "imports/{}/{}.{}.{}.json",
        key.period, key.window, key.channel, key.entry
    )
}

/// A content hash as stored in manifests: xxh3-128, hex.
pub fn content_hash(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// One source file merged into a trace log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportedSource {
    /// Path relative to the imported directory (`logs/hourly/2026-11-24_18.index.log`).
    pub path: String,
    /// [`content_hash`] of the file's bytes.
    pub xxh3: String,
    /// Samples it contributed.
    pub samples: u64,
}

/// What the import wrote into one trace log.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// [`content_hash`] of the trace log as the import left it.
    pub log_xxh3: String,
    /// Source files merged into it.
    pub sources: Vec<ImportedSource>,
}

impl Manifest {
    /// The entry for the source at `path`, if it was imported.
    pub fn source(&self, path: &str) -> Option<&ImportedSource> {
        self.sources.iter().find(|s| s.path == path)
    }
}

/// Lines read and what became of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineTally {
    /// Non-empty lines read.
    pub lines: u64,
    /// Sum of the counts of the accepted lines.
    pub samples: u64,
    /// Rejected lines by reason (`no_count`, `bad_count`, `too_deep`, `empty_stack`).
    pub rejected: BTreeMap<String, u64>,
}

impl LineTally {
    /// Add another tally.
    pub fn add(&mut self, other: &LineTally) {
        self.lines += other.lines;
        self.samples += other.samples;
        for (reason, n) in &other.rejected {
            *self.rejected.entry(reason.clone()).or_insert(0) += n;
        }
    }
}

/// One trace log being rebuilt: what it held, plus the sources merged into it.
#[derive(Default)]
pub struct LogBuilder {
    table: StackTable,
    counts: WindowCounts,
}

impl LogBuilder {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Start from a trace log's decoded text (arclamp's own, trusted format); returns the
    /// number of malformed lines skipped.
    pub fn merge_log(&mut self, text: &[u8]) -> u64 {
        self.counts.merge_folded(&mut self.table, text)
    }

    /// Count a source file's decoded text, line by line, with the service's input contract.
    pub fn add_source(&mut self, text: &[u8], max_depth: usize) -> LineTally {
        let limits = Limits {
            max_depth,
            // A file is not a message: no size limit applies to it as a whole.
            max_message_bytes: usize::MAX,
        };
        let mut tally = LineTally::default();
        let mut scratch = Vec::new();
        let (table, counts) = (&mut self.table, &mut self.counts);
        // Cannot fail: the only error is a message over max_message_bytes.
        let _ = sample::for_each_line(text, &limits, &mut scratch, |line| {
            tally.lines += 1;
            match sample::parse_line(line, &limits) {
                Ok(parsed) => {
                    let id = table.intern(parsed.stack);
                    table.retain(id);
                    counts.add(table, id, u64::from(parsed.count));
                    tally.samples += u64::from(parsed.count);
                }
                Err(reason) => {
                    *tally
                        .rejected
                        .entry(reason.as_str().to_owned())
                        .or_insert(0) += 1
                }
            }
        });
        tally
    }

    /// Samples counted so far.
    pub fn samples(&self) -> u64 {
        self.counts.total()
    }

    /// The trace log: distinct stacks sorted bytewise, gzip'd.
    pub fn encode(&self) -> Encoded {
        self.counts.encode(&self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::compress;

    #[test]
    fn source_names_with_and_without_a_channel() {
        let key = |w: &str, c: &str, e: &str| LogKey {
            period: "hourly".into(),
            window: w.into(),
            channel: c.into(),
            entry: e.into(),
        };
        assert_eq!(
            target_of("hourly", "2026-11-24_18.excimer.index.log"),
            Some(key("2026-11-24_18", "excimer", "index"))
        );
        assert_eq!(
            target_of("hourly", "2026-11-24_18.index.log.gz"),
            Some(key("2026-11-24_18", "excimer", "index"))
        );
        assert_eq!(
            target_of("hourly", "2026-11-24_18.excimer-wall.all.log"),
            Some(key("2026-11-24_18", "excimer-wall", "all"))
        );
        for bad in [
            "notes.txt",
            "2026-11-24_18.log",
            "x.y.in-dex.log",
            ".index.log",
            "a b.index.log",
        ] {
            assert_eq!(target_of("hourly", bad), None, "{bad}");
        }
    }

    #[test]
    fn lines_are_counted_and_rejections_tallied_by_reason() {
        let mut builder = LogBuilder::new();
        builder.merge_log(b"a;b 5\n");
        let tally = builder.add_source(
            b"b;c 1\na;b 1\nno count here\nb;c 0\n 4\nb;c 2\r\n\x1bx;y 1\nd;d;d 1\n",
            2,
        );
        assert_eq!(tally.lines, 8);
        assert_eq!(tally.samples, 5);
        let rejected: Vec<(&str, u64)> = tally
            .rejected
            .iter()
            .map(|(r, n)| (r.as_str(), *n))
            .collect();
        assert_eq!(
            rejected,
            [
                ("bad_count", 1),
                ("empty_stack", 1),
                ("no_count", 1),
                ("too_deep", 1)
            ]
        );
        let log = builder.encode();
        assert_eq!(
            &*compress::maybe_gunzip(&log.bytes).unwrap(),
            b"?x;y 1\na;b 6\nb;c 3\n"
        );
        assert_eq!(builder.samples(), 10);
    }
}
