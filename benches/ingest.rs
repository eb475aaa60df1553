//! Parse + aggregate in process, on `arclamp publish`'s seed-1 stream: the path every
//! sample takes (split, sanitize, parse, tag, intern, count in hourly and daily windows of
//! `all` and its entry point), without actor messaging or I/O.
//!
//! `cargo bench --bench ingest`; numbers and their meaning are in BENCHMARKS.md.

use std::collections::HashMap;

use arclamp::aggregate::WindowCounts;
use arclamp::ingest::{ingest_batch, ChannelState, IngestSettings};
use arclamp::sample::Limits;
use arclamp::stacks::StackTable;
use arclamp::synth::Generator;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const SAMPLES: usize = 50_000;
const MESSAGES_PER_BATCH: usize = 512;

fn stream() -> Vec<Vec<u8>> {
    let mut generator = Generator::new(1);
    (0..SAMPLES)
        .map(|_| {
            let mut line = Vec::with_capacity(4096);
            generator.next_sample(&mut line);
            line
        })
        .collect()
}

struct Windows {
    table: StackTable,
    state: ChannelState,
    counts: HashMap<(usize, String), WindowCounts>,
}

impl Windows {
    fn new() -> Self {
        Windows {
            table: StackTable::new(),
            state: ChannelState::default(),
            counts: HashMap::new(),
        }
    }

    /// Everything the router and the aggregators do per batch.
    fn ingest(&mut self, messages: Vec<Vec<u8>>) {
        let settings = IngestSettings {
            limits: Limits::default(),
            max_entry_points: 64,
            sample_every: 1,
            periods: 2,
        };
        let mut messages = messages.into_iter().peekable();
        while messages.peek().is_some() {
            let batch: Vec<Vec<u8>> = messages.by_ref().take(MESSAGES_PER_BATCH).collect();
            let outcome = ingest_batch(&mut self.state, &settings, &mut self.table, batch);
            for destination in outcome.destinations {
                let window = self
                    .counts
                    .entry((destination.period, destination.entry))
                    .or_default();
                for (id, count) in destination.samples {
                    window.add(&mut self.table, id, u64::from(count));
                }
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let input = stream();
    let bytes: usize = input.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SAMPLES as u64));
    // A window that starts empty: every new stack is interned.
    let cold = |b: &mut criterion::Bencher| {
        b.iter_batched(
            || (input.clone(), Windows::new()),
            |(messages, mut windows)| {
                windows.ingest(messages);
                windows
            },
            BatchSize::PerIteration,
        )
    };
    group.bench_function("samples_cold_window", cold);
    // Mid-window: the same stacks were seen before (the common case in production).
    group.bench_function("samples_warm_window", |b| {
        b.iter_batched(
            || {
                let mut windows = Windows::new();
                windows.ingest(input.clone());
                (input.clone(), windows)
            },
            |(messages, mut windows)| {
                windows.ingest(messages);
                windows
            },
            BatchSize::PerIteration,
        )
    });
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("bytes_cold_window", cold);
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
