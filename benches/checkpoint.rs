//! Checkpoint of a large window: time and peak memory of one checkpoint (snapshot on the
//! ingest thread, then sort + gzip), by frame ids ([`WindowCounts::snapshot`], what the
//! service does) against the previous text copy ([`WindowCounts::text_snapshot`]), measured
//! alternately in the same process on the same window.
//!
//! `cargo bench --bench checkpoint -- [DISTINCT_STACKS] [ROUNDS]` (defaults 1,000,000 and
//! 2). The window holds DISTINCT_STACKS distinct stacks of `arclamp publish`'s generator
//! (seed 1, stack numbers 0, 1, 2, ... of each entry point in turn, about 3.2 KB each), as
//! the daily `all` window of a long-tailed day does. Peak memory is the process's high-water
//! mark (`VmHWM`, reset through `/proc/self/clear_refs` before each checkpoint) minus its
//! resident memory before it. Numbers and their meaning are in BENCHMARKS.md.

use std::io::Write;
use std::time::{Duration, Instant};

use arclamp::ingest::stacks::StackTable;
use arclamp::ingest::synth::{EntryPoint, Generator};
use arclamp::store::aggregate::{Encoded, WindowCounts};

fn main() {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.replace('_', "").parse().ok())
        .collect();
    let distinct = numbers.first().copied().unwrap_or(1_000_000);
    let rounds = numbers.get(1).copied().unwrap_or(2);

    let started = Instant::now();
    let (table, window) = build_window(distinct);
    println!(
        "window: {} distinct stacks, {} samples, {:.0} MB of stack text, {} frames; \
         table built in {:.1} s, RSS {} MB",
        window.distinct(),
        window.total(),
        table.text_bytes_held() as f64 / 1e6,
        table.frame_count(),
        started.elapsed().as_secs_f64(),
        memory().rss / 1_000_000,
    );

    let mut logs = Vec::new();
    for round in 1..=rounds {
        for variant in [Variant::Frames, Variant::Text] {
            let measured = checkpoint(&table, &window, variant);
            println!(
                "round {round} {:<22} snapshot (ingest thread) {:>8.3} s   sort+gzip {:>7.2} s   \
                 peak memory +{:>6} MB   log {} MB",
                variant.name(),
                measured.snapshot.as_secs_f64(),
                measured.encode.as_secs_f64(),
                measured.peak_bytes / 1_000_000,
                measured.log_len / 1_000_000,
            );
            let _ = std::io::stdout().flush();
            logs.push((variant, measured.log_hash, measured.log_len));
        }
    }
    let first = logs[0];
    let identical = logs.iter().all(|l| (l.1, l.2) == (first.1, first.2));
    println!("logs byte-identical across variants and rounds: {identical}");
    assert!(identical, "the two encoders wrote different logs");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Frames,
    Text,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Frames => "by frame ids (new)",
            Variant::Text => "by text copy (old)",
        }
    }
}

/// A window of `distinct` distinct stacks with counts 1 to 3.
fn build_window(distinct: usize) -> (StackTable, WindowCounts) {
    let generator = Generator::new(1);
    let mut table = StackTable::new();
    let mut window = WindowCounts::new();
    let mut text = Vec::with_capacity(16 * 1024);
    let mut number = 0u64;
    while window.distinct() < distinct {
        for entry in EntryPoint::ALL {
            text.clear();
            generator.write_stack(entry, number, &mut text);
            let id = table.intern(&text);
            table.retain(id);
            // Two stack numbers may walk the same path: the second adds to its count.
            window.add(&mut table, id, 1 + number % 3);
        }
        number += 1;
    }
    (table, window)
}

struct Measured {
    snapshot: Duration,
    encode: Duration,
    peak_bytes: u64,
    log_len: usize,
    log_hash: u64,
}

fn checkpoint(table: &StackTable, window: &WindowCounts, variant: Variant) -> Measured {
    reset_peak();
    let before = memory().rss;
    let started = Instant::now();
    let (encoded, snapshot, encode): (Encoded, _, _) = match variant {
        Variant::Frames => {
            let snapshot = window.snapshot(table);
            let copied = started.elapsed();
            (snapshot.encode(), copied, started.elapsed() - copied)
        }
        Variant::Text => {
            let snapshot = window.text_snapshot(table);
            let copied = started.elapsed();
            (snapshot.encode(), copied, started.elapsed() - copied)
        }
    };
    let peak = memory().peak;
    Measured {
        snapshot,
        encode,
        peak_bytes: peak.saturating_sub(before),
        log_len: encoded.bytes.len(),
        log_hash: xxhash_rust::xxh3::xxh3_64(&encoded.bytes),
    }
}

struct Memory {
    rss: u64,
    peak: u64,
}

/// Resident and peak resident memory of this process, in bytes.
fn memory() -> Memory {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kb| kb * 1024)
    };
    Memory {
        rss: field("VmRSS:"),
        peak: field("VmHWM:"),
    }
}

/// Reset the peak resident memory to the current one (Linux: `5` in `clear_refs`).
fn reset_peak() {
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!("cannot reset the peak memory mark ({e}): peaks are since start");
    }
}
