//! Simulated history: the traffic of a stretch of past time, drawn from
//! [`crate::ingest::synth::Generator`] and aggregated per window exactly as the service would have
//! aggregated it had the samples come through Redis, without writing each sample's text:
//! samples are counted by stack number, and each distinct stack's text is written once, when
//! its window is encoded as trace logs. `arclamp publish --to-store` fills a store with it
//! (retention tests, the range-graph benchmark, the demo, storage estimates).

use chrono::{DateTime, TimeDelta, Utc};
use hashbrown::HashMap;

use crate::ingest::synth::{Draw, EntryPoint, Generator, Tally};
use crate::ingest::window::Period;
use crate::store::aggregate::Encoded;
use crate::store::layout::ALL;
use crate::store::packed;

/// One window's simulated samples: stack number -> count per entry point.
#[derive(Default)]
pub struct WindowTraffic {
    /// Indexed by [`EntryPoint`] as usize. Stack numbers are sparse 64-bit values, not the
    /// dense ids [`crate::ingest::stack_counts::IdHasher`] is made for (its multiply leaves the low
    /// bits of small numbers zero), so a general hasher.
    counts: [HashMap<u64, u64, foldhash::fast::RandomState>; 5],
    samples: Tally,
}

impl WindowTraffic {
    /// An empty window.
    pub fn new() -> Self {
        Self::default()
    }

    /// Count one drawn sample.
    pub fn add(&mut self, draw: Draw) {
        *self.counts[draw.entry as usize]
            .entry(draw.stack)
            .or_insert(0) += u64::from(draw.count);
        self.samples.add(draw.entry, draw.count);
    }

    /// Samples counted, per entry point.
    pub fn samples(&self) -> &Tally {
        &self.samples
    }

    /// The window's trace logs: entry point `all` and each entry point that has samples,
    /// each sorted bytewise and gzip'd as the aggregators write them. `generator` must be the
    /// one (same seed) that drew the samples.
    ///
    /// One entry point's stack text is held at a time: every stack starts with its entry
    /// point's file, so `all` is the entry points' sorted logs one after the other, in the
    /// order of their first frames.
    pub fn encode(&self, generator: &Generator) -> Vec<(&'static str, Encoded)> {
        let mut order: Vec<(Vec<u8>, EntryPoint)> = EntryPoint::ALL
            .into_iter()
            .map(|entry| {
                let mut text = Vec::new();
                generator.write_stack(entry, 0, &mut text);
                let first_frame = text.split(|&b| b == b';').next().unwrap_or(&[]).to_vec();
                (first_frame, entry)
            })
            .collect();
        order.sort();
        let mut all = packed::Writer::new();
        let (mut all_stacks, mut all_samples) = (0, 0);
        let mut logs = Vec::new();
        for (_, entry) in order {
            let counts = &self.counts[entry as usize];
            if counts.is_empty() {
                continue;
            }
            let mut text = Vec::new();
            let mut stacks: Vec<(usize, usize, u64)> = Vec::with_capacity(counts.len());
            for (&stack, &count) in counts {
                let start = text.len();
                generator.write_stack(entry, stack, &mut text);
                stacks.push((start, text.len() - start, count));
            }
            let of = |&(start, len, _): &(usize, usize, u64)| &text[start..start + len];
            stacks.sort_unstable_by(|a, b| of(a).cmp(of(b)));
            let mut writer = packed::Writer::new();
            let (mut distinct, mut samples) = (0, 0);
            let mut i = 0;
            while i < stacks.len() {
                // Two stack numbers may walk the same path: one line, summed.
                let stack = of(&stacks[i]);
                let mut count = 0;
                while i < stacks.len() && of(&stacks[i]) == stack {
                    count += stacks[i].2;
                    i += 1;
                }
                writer.push(stack, count);
                all.push(stack, count);
                distinct += 1;
                samples += count;
            }
            all_stacks += distinct;
            all_samples += samples;
            logs.push((
                entry.name(),
                Encoded {
                    // Only `all` is stored: an entry point's log is read from it.
                    bytes: writer.finish_at(packed::TRANSIENT_LEVEL),
                    stacks: distinct,
                    samples,
                },
            ));
        }
        if all_samples > 0 {
            logs.insert(
                0,
                (
                    ALL,
                    Encoded {
                        bytes: all.finish(),
                        stacks: all_stacks,
                        samples: all_samples,
                    },
                ),
            );
        }
        logs
    }
}

/// Samples due in `[from, to)` at `rate` per second counted from `origin`: consecutive
/// steps add up to exactly `rate x elapsed seconds` (rounded down once, not per step).
pub fn samples_between(
    origin: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    rate: f64,
) -> u64 {
    let due = |t: DateTime<Utc>| {
        let seconds = (t - origin).num_milliseconds() as f64 / 1000.0;
        (rate * seconds).floor().max(0.0) as u64
    };
    due(to).saturating_sub(due(from))
}

/// Draw samples from `generator` until their counts sum to exactly `samples` (the last
/// draw's count is cut to fit), handing each to `on_draw`.
pub fn draw_samples(generator: &mut Generator, samples: u64, mut on_draw: impl FnMut(Draw)) {
    let mut left = samples;
    while left > 0 {
        let mut draw = generator.next_draw();
        if u64::from(draw.count) > left {
            // left < 3 here, so it fits a u32.
            draw.count = left as u32;
        }
        left -= u64::from(draw.count);
        on_draw(draw);
    }
}

/// The first instant after `t` at which a window of some period ends: samples between two
/// boundaries fall in one window of every period.
pub fn next_boundary(periods: &[Period], t: DateTime<Utc>) -> DateTime<Utc> {
    periods
        .iter()
        .map(|p| p.window_at(t).end)
        .min()
        .unwrap_or(t + TimeDelta::hours(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::folded;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn steps_add_up_to_the_exact_rate() {
        let origin = at("2026-11-01T00:00:00Z");
        let mut t = origin;
        let mut total = 0;
        for _ in 0..7 {
            let next = t + TimeDelta::milliseconds(1_300);
            total += samples_between(origin, t, next, 2.5);
            t = next;
        }
        assert_eq!(total, (2.5f64 * 9.1).floor() as u64);
    }

    #[test]
    fn drawn_counts_sum_exactly() {
        let mut generator = Generator::new(3);
        let mut sum = 0;
        draw_samples(&mut generator, 1001, |d| sum += u64::from(d.count));
        assert_eq!(sum, 1001);
    }

    #[test]
    fn boundaries_are_the_nearest_window_end() {
        let periods = [
            Period::new("daily", "%Y-%m-%d").unwrap(),
            Period::new("hourly", "%Y-%m-%d_%H").unwrap(),
        ];
        assert_eq!(
            next_boundary(&periods, at("2026-11-01T05:30:00Z")),
            at("2026-11-01T06:00:00Z")
        );
    }

    #[test]
    fn encoded_logs_are_what_the_same_samples_published_would_give() {
        // The same seed's samples written as text, aggregated the service's way.
        let mut text_generator = Generator::new(9);
        let mut published = Vec::new();
        let mut expected: std::collections::BTreeMap<&str, Vec<u8>> = Default::default();
        for _ in 0..3_000 {
            let mut line = Vec::new();
            let produced = text_generator.next_sample(&mut line);
            line.push(b'\n');
            expected
                .entry(produced.entry.name())
                .or_default()
                .extend_from_slice(&line);
            published.extend_from_slice(&line);
        }
        expected.insert(ALL, published);

        let mut generator = Generator::new(9);
        let mut window = WindowTraffic::new();
        for _ in 0..3_000 {
            window.add(generator.next_draw());
        }
        let logs = window.encode(&generator);
        assert_eq!(logs.len(), 6, "all and five entry points");
        for (entry, encoded) in logs {
            let text = folded::decode(&encoded.bytes).unwrap();
            let want = folded::aggregate(&expected[entry]);
            let want: Vec<u8> = want
                .stacks
                .iter()
                .flat_map(|(s, c)| [*s, b" ", c.to_string().as_bytes(), b"\n"].concat())
                .collect();
            assert_eq!(text, want, "{entry}");
            assert_eq!(
                encoded.samples,
                window
                    .samples()
                    .iter()
                    .find(|(e, _)| *e == entry)
                    .unwrap()
                    .1
            );
        }
    }
}
