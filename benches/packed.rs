//! The packed trace format against the gzip'd folded log it replaces: bytes, time to
//! encode, and time to read every stack back, on the same logs in the same run.
//!
//! `cargo bench --bench packed -- LOG...`: each LOG is a trace log (gzip'd or plain folded
//! text; a `.range.gz` range summary is timed as ranges read it instead), e.g. a daily `all` log written by `arclamp publish --to-store` or the real samples
//! in `../shared/data/mediawiki/`. `bench/packed.sh` makes both and runs this. Each time is
//! the best of 3 rounds; numbers and their meaning are in BENCHMARKS.md.

use std::time::{Duration, Instant};

use arclamp::graphs::range_summary::RangeSummary;
use arclamp::store::{compress, folded, packed};

fn best(mut f: impl FnMut()) -> Duration {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let paths: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if paths.is_empty() {
        eprintln!("usage: cargo bench --bench packed -- LOG...");
        std::process::exit(2);
    }
    for path in paths {
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        if path.ends_with(".range.gz") {
            // A range summary (either version): the time to read each tree, as a range does.
            for reversed in [false, true] {
                let mut lines = 0;
                let took = best(|| {
                    let tree = RangeSummary::decode_tree(&raw, reversed).expect("a summary");
                    lines = tree.entries(reversed).count();
                });
                println!(
                    "{path}: {} bytes; {} tree, {lines} lines, read in {:.4} s",
                    raw.len(),
                    if reversed { "reversed" } else { "forward" },
                    took.as_secs_f64()
                );
            }
            continue;
        }
        let text = folded::decode(&raw).expect("a trace log");
        let counted = folded::aggregate(&text);
        let stacks = counted.stacks.clone();
        let samples: u64 = stacks.iter().map(|(_, n)| n).sum();
        // The folded log as the store writes it: sorted lines, gzip'd.
        let mut lines: Vec<(&[u8], u64)> = stacks.clone();
        lines.sort_unstable();
        let mut plain = Vec::new();
        for (stack, count) in &lines {
            plain.extend_from_slice(stack);
            plain.extend_from_slice(format!(" {count}\n").as_bytes());
        }
        let mut gzipped = Vec::new();
        let gzip_encode = best(|| gzipped = compress::gzip(&plain));
        let mut read_back = 0u64;
        let gzip_decode = best(|| {
            let text = compress::maybe_gunzip(&gzipped).expect("gzip");
            read_back = 0;
            for line in text.split(|&b| b == b'\n') {
                if let Some((_, n)) = folded::parse_line(line) {
                    read_back += n;
                }
            }
        });
        assert_eq!(read_back, samples);
        let mut packed_bytes = Vec::new();
        let packed_encode = best(|| packed_bytes = packed::encode(stacks.iter().copied()));
        let packed_decode = best(|| {
            read_back = 0;
            packed::for_each_stack(&packed_bytes, |_, n| read_back += n).expect("packed");
        });
        assert_eq!(read_back, samples);
        assert_eq!(packed::to_folded(&packed_bytes).expect("packed"), plain);
        println!(
            "{path}: {} stacks, {samples} samples, {:.1} MB of text",
            stacks.len(),
            plain.len() as f64 / 1e6
        );
        println!(
            "  gzip'd folded log: {:>9} bytes ({:.3} B/sample), encode {:.3} s, read {:.3} s",
            gzipped.len(),
            gzipped.len() as f64 / samples as f64,
            gzip_encode.as_secs_f64(),
            gzip_decode.as_secs_f64()
        );
        println!(
            "  packed trace:      {:>9} bytes ({:.3} B/sample), encode {:.3} s, read {:.3} s",
            packed_bytes.len(),
            packed_bytes.len() as f64 / samples as f64,
            packed_encode.as_secs_f64(),
            packed_decode.as_secs_f64()
        );
        println!(
            "  packed / gzip: size {:.3}, encode {:.2}x, read {:.2}x; to_folded equals the log: yes",
            packed_bytes.len() as f64 / gzipped.len() as f64,
            packed_encode.as_secs_f64() / gzip_encode.as_secs_f64(),
            packed_decode.as_secs_f64() / gzip_decode.as_secs_f64()
        );
    }
}
