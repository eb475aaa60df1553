//! Fuzzing entry points: one function per fuzz target in `fuzz/fuzz_targets/`, each taking
//! untrusted bytes the way the service does and checking what must hold whatever they are.
//! `scripts/fuzz` runs them under libFuzzer (cargo-fuzz); the test suite replays every
//! input kept in `fuzz/corpus/` through the same functions, so CI checks them on stable
//! Rust in seconds. A panic anywhere here is a bug.
//!
//! It may import anything but `actors` and `cli`.

use crate::graphs::on_demand::Series;
use crate::graphs::range;
use crate::graphs::range_summary::RangeSummary;
use crate::graphs::window_stacks::WindowStacks;
use crate::http::keys;
use crate::http::on_demand::{diff_request, range_request, DiffQuery, RangeQuery};
use crate::ingest::batch::{ingest_batch, ChannelState, IngestSettings};
use crate::ingest::sample::{self, Limits};
use crate::ingest::stacks::StackTable;
use crate::ingest::window::Period;
use crate::store::catalogue::LogSummary;
use crate::store::compress;
use crate::store::layout::LogKey;
use crate::store::packed;
use crate::store::seal;
use crate::store::segment::SectionRef;

/// A fuzz target: untrusted bytes in, a panic when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target, by the name of its file in `fuzz/fuzz_targets/` and `fuzz/corpus/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("message", message),
    ("folded_log", folded_log),
    ("stored_format", stored_format),
    ("url", url),
];

/// A Redis message (pub/sub payload or stream entry's `data`): parsed, sanitized, tagged
/// and interned. Whatever it holds, every line is accepted or counted as rejected, and the
/// samples accepted are what the destinations hold.
pub fn message(data: &[u8]) {
    let settings = IngestSettings {
        limits: Limits {
            max_depth: 64,
            max_message_bytes: 1 << 16,
        },
        max_entry_points: 4,
        sample_every: 1,
        periods: 2,
        tag_entries: true,
    };
    let mut state = ChannelState::default();
    let mut table = StackTable::new();
    let outcome = ingest_batch(&mut state, &settings, &mut table, [data]);
    assert_eq!(outcome.messages, 1);
    // Each accepted sample is counted once per period, in `all` (and its entry point).
    let in_all: u64 = outcome
        .destinations
        .iter()
        .filter(|d| d.entry == sample::ALL)
        .map(|d| d.total)
        .sum();
    assert_eq!(in_all, outcome.accepted * settings.periods as u64);
    let mut line = data.to_vec();
    sample::sanitize_in_place(&mut line);
    assert!(line
        .iter()
        .all(|&b| b == b'\n' || (0x20..0x7f).contains(&b) || b == b'\t' || b == b'\r'));
}

/// A trace log from `import`, a segment section or a stored window (gzip'd or not): merged
/// as a seal merges, read as a renderer reads, merged as a range merges. Malformed lines are
/// counted, damaged gzip is an error; the samples kept add up.
pub fn folded_log(data: &[u8]) {
    if let Ok(sealed) = seal::merge([data], 8) {
        let entries: u64 = sealed.entries.iter().map(|(_, log)| log.samples).sum();
        assert!(entries <= sealed.all.samples);
        // The merge's output is a log arclamp wrote: merging it again changes nothing.
        let again = seal::merge([&sealed.all.bytes], 8).expect("arclamp's own log merges");
        assert_eq!(again.all.samples, sealed.all.samples);
        assert_eq!(again.malformed_lines, 0);
    }
    if let Ok(stacks) = WindowStacks::read(data) {
        assert_eq!(stacks.forward().len(), stacks.len());
    }
    let input = range::RangeInput::Log(bytes::Bytes::copy_from_slice(data));
    let _ = range::merge(&[input], true, |samples| samples as f64 / 1000.0);
}

/// What arclamp reads back from its own store, damaged or forged: range summaries, index
/// entries of the ledger, log summaries, gzip. An error, never a panic.
pub fn stored_format(data: &[u8]) {
    packed_trace(data);
    let _ = RangeSummary::decode(data);
    let _ = RangeSummary::decode_tree(data, true);
    let _ = LogSummary::decode(data);
    let _ = compress::maybe_gunzip(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(section) = SectionRef::parse(text) {
            assert_eq!(SectionRef::parse(&section.to_string()), Some(section));
            let _ = section.bytes(data);
        }
    }
}

/// The packed trace format: any bytes are decoded or refused; the same bytes behind a valid
/// header and zstd frame reach the body's parser; and the bytes read as folded lines encode
/// and decode to their sorted, summed log.
fn packed_trace(data: &[u8]) {
    let _ = packed::decode(data);
    let mut forged = packed::MAGIC.to_vec();
    forged.push(packed::VERSION);
    forged.extend(zstd::bulk::compress(data, 1).unwrap_or_default());
    let _ = packed::decode(&forged);
    let mut expected: std::collections::BTreeMap<&[u8], u64> = Default::default();
    for line in data.split(|&b| b == b'\n') {
        if let Some((stack, count)) = crate::store::folded::parse_line(line) {
            if count > 0 {
                let sum = expected.entry(stack).or_default();
                *sum = sum.saturating_add(count);
            }
        }
    }
    let encoded = packed::encode(expected.iter().map(|(s, n)| (*s, *n)));
    let decoded = packed::decode(&encoded).expect("a packed trace just written decodes");
    let want: Vec<(Vec<u8>, u64)> = expected.into_iter().map(|(s, n)| (s.to_vec(), n)).collect();
    assert_eq!(decoded, want, "packed round trip");
}

/// A URL's path segments and query string: file names under `/logs/` and `/svgs/`, window
/// names, and the range and diff queries. Anything is refused with an error or names a path
/// inside the store.
pub fn url(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (path, query) = text.split_once('?').unwrap_or((text, ""));
    for period in ["hourly", "daily"] {
        for parsed in [
            keys::log_file(period, path).ok(),
            keys::svg_file(period, path).ok().map(|(key, _)| key),
            LogKey::from_log_name(period, path),
        ]
        .into_iter()
        .flatten()
        {
            let stored = parsed.log_path();
            assert!(
                crate::store::storage::check_path(&stored, false).is_ok(),
                "{stored}"
            );
        }
    }
    let daily = Period::new("daily", "%Y-%m-%d").expect("the daily period");
    let _ = keys::window(&daily, path);
    if let Ok(q) = actix_web::web::Query::<RangeQuery>::from_query(query) {
        if let Ok((series, _)) = range_request(&q) {
            check_series(&series);
            let _ = range::windows_between(&daily, &q.from, &q.to, 62);
        }
    }
    if let Ok(q) = actix_web::web::Query::<DiffQuery>::from_query(query) {
        if let Ok((series, _)) = diff_request(&q) {
            check_series(&series);
        }
    }
}

fn check_series(series: &Series) {
    let stored = series.key("2026-01-01").log_path();
    assert!(
        crate::store::storage::check_path(&stored, false).is_ok(),
        "{stored}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What CI runs of the fuzzers: every input kept in `fuzz/seeds/<target>/` (written by
    /// hand, and each crash ever found, by what it broke) and `fuzz/corpus/<target>/` (what
    /// the fuzzers found worth keeping), through its target, on stable Rust.
    #[test]
    fn every_kept_input_passes_its_target() {
        let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        for (name, target) in TARGETS {
            let mut inputs = Vec::new();
            for dir in [
                fuzz.join("seeds").join(name),
                fuzz.join("corpus").join(name),
            ] {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                inputs.extend(entries.filter_map(|e| Some(e.ok()?.path())));
            }
            assert!(!inputs.is_empty(), "no inputs for {name}");
            for input in inputs {
                // A fuzzer running meanwhile replaces inputs: one gone since is not one.
                let Ok(data) = std::fs::read(&input) else {
                    continue;
                };
                if std::panic::catch_unwind(|| target(&data)).is_err() {
                    panic!("{} fails its target {name}", input.display());
                }
            }
        }
    }

    #[test]
    fn every_target_has_a_fuzz_binary() {
        let targets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
        for (name, _) in TARGETS {
            let file = std::fs::read_to_string(targets.join(format!("{name}.rs")))
                .unwrap_or_else(|e| panic!("fuzz/fuzz_targets/{name}.rs: {e}"));
            assert!(
                file.contains(&format!("arclamp::fuzz::{name}(data)")),
                "{name}"
            );
        }
    }
}
