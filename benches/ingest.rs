//! Parse + aggregate in process, on `arclamp publish`'s seed-1 stream: the path every
//! sample takes (split, sanitize, parse, tag, intern, count in hourly and daily windows of
//! `all` and its entry point), without actor messaging or I/O.
//!
//! `cargo bench --bench ingest`; numbers and their meaning are in BENCHMARKS.md. Times are
//! the benchmark thread's CPU time ([`ThreadCpuTime`]): the target is per core, and on a
//! shared machine wall time also counts the time other processes hold the core.

use std::collections::HashMap;
use std::time::Duration;

use arclamp::ingest::batch::{ingest_batch, ChannelState, IngestSettings};
use arclamp::ingest::sample::Limits;
use arclamp::ingest::stacks::StackTable;
use arclamp::ingest::synth::Generator;
use arclamp::store::aggregate::WindowCounts;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// The short input: the stream's first 50,000 samples, its most pessimistic part (the
/// largest share of stacks never seen before).
const SAMPLES: usize = 50_000;
/// The long input: a live window's first million samples (from an empty table).
const LONG_SAMPLES: usize = 1_000_000;
const MESSAGES_PER_BATCH: usize = 512;

/// The first `samples` samples of the seed-1 stream, one message each.
fn stream(samples: usize) -> Vec<Vec<u8>> {
    let mut generator = Generator::new(1);
    let mut line = Vec::with_capacity(16 * 1024);
    (0..samples)
        .map(|_| {
            line.clear();
            generator.next_sample(&mut line);
            line.clone()
        })
        .collect()
}

/// Print what an input is made of: its size and the share of its samples that are stacks
/// never seen before in it (what a window starting empty has to intern).
fn describe(name: &str, input: &[Vec<u8>]) {
    let bytes: usize = input.iter().map(Vec::len).sum();
    let mut windows = Windows::new();
    windows.ingest(input.to_vec());
    let distinct = windows.table.len();
    eprintln!(
        "{name}: {} samples, {:.1} MB ({:.0} bytes per sample), {distinct} distinct stacks \
         ({:.1} % of the samples are new stacks)",
        input.len(),
        bytes as f64 / 1e6,
        bytes as f64 / input.len() as f64,
        100.0 * distinct as f64 / input.len() as f64,
    );
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
            tag_entries: true,
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

/// Criterion measurement: CPU time (user and system) of the benchmark thread, from
/// `CLOCK_THREAD_CPUTIME_ID`, shown like wall time.
#[derive(Default)]
struct ThreadCpuTime;

/// Formats CPU times as it formats wall times.
static WALL_TIME: WallTime = WallTime;

fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for clock_gettime to fill.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_time().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL_TIME.formatter()
    }
}

fn bench(c: &mut Criterion<ThreadCpuTime>) {
    let input = stream(SAMPLES);
    describe("first 50,000", &input);
    let bytes: usize = input.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SAMPLES as u64));
    // A window that starts empty: every new stack is interned.
    let cold = |b: &mut criterion::Bencher<ThreadCpuTime>| {
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
    drop(input);

    // A live window's first million samples from an empty table: the stream as a window
    // sees it, where later samples more and more often repeat a stack seen before. MB/s is
    // samples/s times the bytes per sample printed by `describe`.
    let long_and_next = stream(2 * LONG_SAMPLES);
    let (long, next) = long_and_next.split_at(LONG_SAMPLES);
    let (long, next) = (long.to_vec(), next.to_vec());
    drop(long_and_next);
    describe("first 1,000,000", &long);
    let mut group = c.benchmark_group("ingest_1m");
    group.sample_size(10);
    // About 2 s per iteration: room for 10 without criterion warning.
    group.measurement_time(Duration::from_secs(30));
    group.throughput(Throughput::Elements(LONG_SAMPLES as u64));
    group.bench_function("samples_cold_window", |b| {
        b.iter_batched(
            || (long.clone(), Windows::new()),
            |(messages, mut windows)| {
                windows.ingest(messages);
                windows
            },
            BatchSize::PerIteration,
        )
    });
    // The same window's second million: what a running service sustains on this stream.
    // It is not the warm case above: the stream keeps bringing stacks never seen before
    // (19 % of the second million, 16 % of the fifth), into a table that keeps growing.
    group.bench_function("samples_second_million", |b| {
        b.iter_batched(
            || {
                let mut windows = Windows::new();
                windows.ingest(long.clone());
                (next.clone(), windows)
            },
            |(messages, mut windows)| {
                windows.ingest(messages);
                windows
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench
}
criterion_main!(benches);
