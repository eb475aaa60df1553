//! Ingest: one channel's batch of raw messages -> per-aggregator batches of
//! `(stack id, count)`, with everything that was received, rejected, sampled out or
//! overflowed counted. This is the hot path of the service, kept free of actors so it is
//! unit-tested and benchmarked as it runs.

use std::collections::{HashMap, HashSet};

use crate::ingest::sample::ALL;
use crate::ingest::sample::{self, Limits, Rejection};
use crate::ingest::stacks::{StackId, StackTable};

/// Settings of the ingest path, from `[aggregation]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestSettings {
    /// Parse limits.
    pub limits: Limits,
    /// Distinct entry points per channel.
    pub max_entry_points: usize,
    /// Keep every Nth message.
    pub sample_every: u64,
    /// How many periods each sample is counted in.
    pub periods: usize,
    /// Count each sample in its entry point as well as in `all`. Stream mode counts `all`
    /// only and derives entry points from the stacks when a window is sealed.
    pub tag_entries: bool,
}

/// What a channel remembers between batches.
#[derive(Debug, Default)]
pub struct ChannelState {
    messages_seen: u64,
    scratch: Vec<u8>,
    /// Looked up once per sample: foldhash rather than SipHash (at most
    /// `max_entry_points` names, seeded per process).
    entries: HashSet<String, foldhash::fast::RandomState>,
    overflowed: HashSet<String>,
}

/// Samples of one batch bound for one aggregator: (period index, entry point).
#[derive(Debug, PartialEq, Eq)]
pub struct Destination {
    /// Index into the configured periods.
    pub period: usize,
    /// Entry point, or `all`.
    pub entry: String,
    /// Stack ids (one table reference each, to hand over) and counts.
    pub samples: Vec<(StackId, u32)>,
    /// Sum of the counts.
    pub total: u64,
}

/// The result of one batch.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Per-aggregator batches.
    pub destinations: Vec<Destination>,
    /// Messages read.
    pub messages: u64,
    /// Samples accepted (sum of counts).
    pub accepted: u64,
    /// Messages skipped by `sample_every`.
    pub sampled_out: u64,
    /// Rejections by reason.
    pub rejections: HashMap<Rejection, u64>,
    /// Samples of entry points beyond the limit, by entry point, and whether each is new.
    pub overflow: Vec<(String, u64, bool)>,
}

/// Parse, sanitize, tag and intern one channel's messages.
pub fn ingest_batch(
    state: &mut ChannelState,
    settings: &IngestSettings,
    table: &mut StackTable,
    payloads: impl IntoIterator<Item = impl AsRef<[u8]>>,
) -> BatchOutcome {
    let mut outcome = BatchOutcome::default();
    let mut overflow: HashMap<String, u64> = HashMap::new();
    for payload in payloads {
        outcome.messages += 1;
        state.messages_seen += 1;
        if !(state.messages_seen - 1).is_multiple_of(settings.sample_every) {
            outcome.sampled_out += 1;
            continue;
        }
        let destinations = &mut outcome.destinations;
        let rejections = &mut outcome.rejections;
        let accepted = &mut outcome.accepted;
        let mut scratch = std::mem::take(&mut state.scratch);
        let parsed =
            sample::for_each_sample(payload.as_ref(), &settings.limits, &mut scratch, |parsed| {
                let sample = match parsed {
                    Ok(sample) => sample,
                    Err(reason) => {
                        *rejections.entry(reason).or_default() += 1;
                        return;
                    }
                };
                *accepted += u64::from(sample.count);
                let entry = sample
                    .entry
                    .filter(|_| settings.tag_entries)
                    .filter(|name| {
                        if state.entries.contains(*name) {
                            return true;
                        }
                        if state.entries.len() < settings.max_entry_points {
                            state.entries.insert((*name).to_owned());
                            return true;
                        }
                        *overflow.entry((*name).to_owned()).or_default() += u64::from(sample.count);
                        false
                    });
                let id = table.intern(sample.stack);
                for period in 0..settings.periods {
                    for name in std::iter::once(ALL).chain(entry) {
                        let slot = match destinations
                            .iter()
                            .position(|d| d.period == period && d.entry == name)
                        {
                            Some(slot) => slot,
                            None => {
                                destinations.push(Destination {
                                    period,
                                    entry: name.to_owned(),
                                    samples: Vec::new(),
                                    total: 0,
                                });
                                destinations.len() - 1
                            }
                        };
                        // One reference per aggregator the sample goes to, handed over with it.
                        table.retain(id);
                        destinations[slot].samples.push((id, sample.count));
                        destinations[slot].total += u64::from(sample.count);
                    }
                }
            });
        state.scratch = scratch;
        if let Err(reason) = parsed {
            *outcome.rejections.entry(reason).or_default() += 1;
        }
    }
    for (entry, samples) in overflow {
        let first_time = state.overflowed.insert(entry.clone());
        outcome.overflow.push((entry, samples, first_time));
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(periods: usize) -> IngestSettings {
        IngestSettings {
            limits: Limits::default(),
            max_entry_points: 64,
            sample_every: 1,
            periods,
            tag_entries: true,
        }
    }

    fn totals(outcome: &BatchOutcome) -> Vec<(usize, &str, u64)> {
        let mut t: Vec<(usize, &str, u64)> = outcome
            .destinations
            .iter()
            .map(|d| (d.period, d.entry.as_str(), d.total))
            .collect();
        t.sort();
        t
    }

    #[test]
    fn each_sample_goes_to_all_and_its_entry_in_every_period() {
        let mut table = StackTable::new();
        let mut state = ChannelState::default();
        let messages = vec![b"/w/index.php;A 2\n/w/api.php;B 1\nx;y 4".to_vec()];
        let outcome = ingest_batch(&mut state, &settings(2), &mut table, messages);
        assert_eq!(
            totals(&outcome),
            vec![
                (0, "all", 7),
                (0, "api", 1),
                (0, "index", 2),
                (1, "all", 7),
                (1, "api", 1),
                (1, "index", 2)
            ]
        );
        assert_eq!((outcome.messages, outcome.accepted), (1, 7));
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn references_are_taken_once_per_destination() {
        let mut table = StackTable::new();
        let mut state = ChannelState::default();
        let outcome = ingest_batch(
            &mut state,
            &settings(2),
            &mut table,
            vec![b"/w/index.php;A 1".to_vec()],
        );
        // Four destinations hold the stack: releasing four times frees it.
        let id = outcome.destinations[0].samples[0].0;
        for _ in 0..3 {
            table.release(id);
            assert_eq!(table.len(), 1);
        }
        table.release(id);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn overflowing_entry_points_are_reported_once_as_new() {
        let mut table = StackTable::new();
        let mut state = ChannelState::default();
        let s = IngestSettings {
            max_entry_points: 1,
            ..settings(1)
        };
        let first = ingest_batch(
            &mut state,
            &s,
            &mut table,
            vec![b"/w/index.php;A 1\n/w/api.php;B 3".to_vec()],
        );
        assert_eq!(first.overflow, vec![("api".to_owned(), 3, true)]);
        let second = ingest_batch(&mut state, &s, &mut table, vec![b"/w/api.php;B 1".to_vec()]);
        assert_eq!(second.overflow, vec![("api".to_owned(), 1, false)]);
        assert_eq!(totals(&second), vec![(0, "all", 1)]);
    }

    #[test]
    fn without_entry_tagging_every_sample_counts_in_all_only() {
        let mut table = StackTable::new();
        let mut state = ChannelState::default();
        let s = IngestSettings {
            max_entry_points: 1,
            tag_entries: false,
            ..settings(1)
        };
        let outcome = ingest_batch(
            &mut state,
            &s,
            &mut table,
            vec![b"/w/index.php;A 1\n/w/api.php;B 3".to_vec()],
        );
        assert_eq!(totals(&outcome), vec![(0, "all", 4)]);
        assert!(outcome.overflow.is_empty(), "{:?}", outcome.overflow);
    }

    #[test]
    fn sample_every_counts_messages_across_batches() {
        let mut table = StackTable::new();
        let mut state = ChannelState::default();
        let s = IngestSettings {
            sample_every: 2,
            ..settings(1)
        };
        let a = ingest_batch(
            &mut state,
            &s,
            &mut table,
            vec![b"a 1".to_vec(), b"b 1".to_vec(), b"c 1".to_vec()],
        );
        let b = ingest_batch(
            &mut state,
            &s,
            &mut table,
            vec![b"d 1".to_vec(), b"e 1".to_vec()],
        );
        assert_eq!(
            (a.accepted, a.sampled_out, b.accepted, b.sampled_out),
            (2, 1, 1, 1)
        );
    }
}
