//! Write consecutive days of synthetic trace logs (sorted, gzip'd folded stacks, as an
//! aggregator checkpoints them), drawn by one `arclamp::synth` generator so that the days
//! share their hot stacks the way real days do: the input of `bench/range.sh`.
//!
//! Usage: `synth_log DIR SAMPLES_PER_DAY DAYS SEED` writes
//! `DIR/2026-11-{01..}.excimer.all.log.gz`.

use std::io::Write;

use arclamp::folded::{FoldedWriter, StackCounter};
use arclamp::synth::Generator;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let number = |i: usize| args.get(i).and_then(|s| s.parse::<u64>().ok());
    let (Some(dir), Some(samples), Some(days), Some(seed)) =
        (args.get(1), number(2), number(3), number(4))
    else {
        eprintln!("usage: synth_log DIR SAMPLES_PER_DAY DAYS SEED");
        return std::process::ExitCode::FAILURE;
    };
    let mut generator = Generator::new(seed);
    let mut line = Vec::with_capacity(8192);
    for day in 1..=days {
        let mut counter = StackCounter::new();
        let mut drawn = 0u64;
        while drawn < samples {
            line.clear();
            drawn += u64::from(generator.next_sample(&mut line).count);
            counter.push_line(&line);
        }
        let counted = counter.finish();
        let stacks = counted.stacks();
        let text: usize = stacks.iter().map(|(s, _)| s.len() + 8).sum();
        let mut writer = FoldedWriter::new(text);
        for (stack, count) in &stacks {
            writer.push(stack, *count);
        }
        let gzip = writer.finish();
        let path = format!("{dir}/2026-11-{day:02}.excimer.all.log.gz");
        if let Err(e) = std::fs::File::create(&path).and_then(|mut f| f.write_all(&gzip)) {
            eprintln!("cannot write {path}: {e}");
            return std::process::ExitCode::FAILURE;
        }
        eprintln!(
            "{path}: {drawn} samples, {} distinct stacks, {text} bytes of text, {} bytes gzip'd",
            stacks.len(),
            gzip.len()
        );
    }
    std::process::ExitCode::SUCCESS
}
