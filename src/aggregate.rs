//! One window's counts: `StackId -> count` over a shared [`StackTable`], and the
//! conversion to and from the folded trace-log format.
//!
//! This is the state an aggregator actor holds; it knows nothing about actors or storage.
//! References: every stack counted here holds one reference in the table, handed over by
//! the caller with each new sample ([`WindowCounts::add`]) and given back by
//! [`WindowCounts::release_all`] when the window is dropped.

use std::hash::BuildHasherDefault;

use hashbrown::hash_map::Entry;
use hashbrown::HashMap;

use crate::folded::{self, FoldedWriter};
use crate::stacks::{StackId, StackTable};

/// Stack ids are dense small integers: hash them with a multiply rather than a full hasher.
#[derive(Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The counts of one (period, window, channel, entry point).
#[derive(Default)]
pub struct WindowCounts {
    counts: HashMap<StackId, u64, BuildHasherDefault<IdHasher>>,
    total: u64,
}

/// A window's stacks copied out of the table, ready to encode away from the ingest thread.
pub struct Snapshot {
    text: Vec<u8>,
    stacks: Vec<StackRef>,
    samples: u64,
}

struct StackRef {
    start: usize,
    len: usize,
    count: u64,
}

impl Snapshot {
    /// Sort the stacks bytewise and write them as a gzip trace log.
    pub fn encode(mut self) -> Encoded {
        let text = &self.text;
        let stack = |r: &StackRef| &text[r.start..r.start + r.len];
        self.stacks.sort_unstable_by(|a, b| stack(a).cmp(stack(b)));
        let mut writer = FoldedWriter::new(self.text.len() + 12 * self.stacks.len());
        for r in &self.stacks {
            writer.push(stack(r), r.count);
        }
        Encoded {
            gzip: writer.finish(),
            stacks: self.stacks.len(),
            samples: self.samples,
        }
    }
}

/// The result of encoding a window as a trace log.
pub struct Encoded {
    /// The gzip bytes of the trace log.
    pub gzip: Vec<u8>,
    /// Distinct stacks written.
    pub stacks: usize,
    /// Sum of counts written.
    pub samples: u64,
}

impl WindowCounts {
    /// An empty window.
    pub fn new() -> Self {
        Self::default()
    }

    /// Count `count` samples of `id`. The caller has retained `id` once for this window;
    /// the reference is kept when the stack is new here and given back otherwise.
    pub fn add(&mut self, table: &mut StackTable, id: StackId, count: u64) {
        self.total += count;
        match self.counts.entry(id) {
            Entry::Occupied(mut existing) => {
                *existing.get_mut() += count;
                // Cannot free the stack: this window still holds its own reference.
                table.release(id);
            }
            Entry::Vacant(vacant) => {
                vacant.insert(count);
            }
        }
    }

    /// Merge a trace log's text (already decoded) into this window. Returns the number of
    /// malformed lines skipped.
    pub fn merge_folded(&mut self, table: &mut StackTable, text: &[u8]) -> u64 {
        let mut malformed = 0;
        for line in crate::sample::lines(text) {
            match folded::parse_line(line) {
                Some((stack, count)) => {
                    let id = table.intern(stack);
                    table.retain(id);
                    self.add(table, id, count);
                }
                None => malformed += 1,
            }
        }
        malformed
    }

    /// Encode as a trace log: distinct stacks sorted bytewise, `STACK COUNT` per line, gzip.
    pub fn encode(&self, table: &StackTable) -> Encoded {
        self.snapshot(table).encode()
    }

    /// Copy the window's stacks and counts out of the table, unsorted. This is the only part
    /// of a checkpoint that needs the table; sorting and compressing, the expensive part,
    /// happen in [`Snapshot::encode`], on any thread.
    pub fn snapshot(&self, table: &StackTable) -> Snapshot {
        let text_bytes: usize = self.counts.keys().map(|&id| table.text_len(id)).sum();
        let mut text = Vec::with_capacity(text_bytes);
        let mut stacks = Vec::with_capacity(self.counts.len());
        for (&id, &count) in &self.counts {
            let start = text.len();
            table.write_text(id, &mut text);
            stacks.push(StackRef {
                start,
                len: text.len() - start,
                count,
            });
        }
        Snapshot {
            text,
            stacks,
            samples: self.total,
        }
    }

    /// Sum of all counts.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Number of distinct stacks.
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    /// Give back every reference this window holds.
    pub fn release_all(&mut self, table: &mut StackTable) {
        for (id, _) in self.counts.drain() {
            table.release(id);
        }
        self.total = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress;

    fn add(window: &mut WindowCounts, table: &mut StackTable, stack: &str, count: u64) {
        let id = table.intern(stack.as_bytes());
        table.retain(id);
        window.add(table, id, count);
    }

    #[test]
    fn counts_sum_and_encode_sorted() {
        let mut table = StackTable::new();
        let mut w = WindowCounts::new();
        add(&mut w, &mut table, "b;c", 1);
        add(&mut w, &mut table, "a;b", 2);
        add(&mut w, &mut table, "b;c", 4);
        let encoded = w.encode(&table);
        assert_eq!(
            &*compress::maybe_gunzip(&encoded.gzip).unwrap(),
            b"a;b 2\nb;c 5\n"
        );
        assert_eq!((encoded.stacks, encoded.samples), (2, 7));
    }

    #[test]
    fn encoded_logs_are_sorted_by_stack_bytes_even_with_spaces_and_prefixes() {
        let texts = [
            "a;b", "a;b;c", "a;bc", "a;b  x", "a;b c", "a", "ab;c", "a;B", "a;b;a", "b", "a;;b",
        ];
        let mut table = StackTable::new();
        let mut w = WindowCounts::new();
        for (i, t) in texts.iter().enumerate() {
            add(&mut w, &mut table, t, 9 - (i as u64 % 9));
        }
        let log = compress::maybe_gunzip(&w.encode(&table).gzip)
            .unwrap()
            .into_owned();
        let stacks: Vec<&[u8]> = log
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| crate::folded::parse_line(l).unwrap().0)
            .collect();
        let mut expected: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
        expected.sort();
        assert_eq!(stacks, expected);
    }

    #[test]
    fn two_windows_share_stacks_and_free_them_when_both_close() {
        let mut table = StackTable::new();
        let mut hourly = WindowCounts::new();
        let mut daily = WindowCounts::new();
        add(&mut hourly, &mut table, "a;b", 1);
        add(&mut daily, &mut table, "a;b", 1);
        add(&mut daily, &mut table, "a;b", 1);
        assert_eq!(table.len(), 1);
        hourly.release_all(&mut table);
        assert_eq!(table.len(), 1);
        daily.release_all(&mut table);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn merging_a_checkpoint_carries_counts_over() {
        let mut table = StackTable::new();
        let mut before = WindowCounts::new();
        add(&mut before, &mut table, "x;y", 3);
        let log = compress::maybe_gunzip(&before.encode(&table).gzip)
            .unwrap()
            .into_owned();
        let mut after = WindowCounts::new();
        assert_eq!(after.merge_folded(&mut table, &log), 0);
        add(&mut after, &mut table, "x;y", 1);
        assert_eq!(after.total(), 4);
        assert_eq!(after.merge_folded(&mut table, b"bad line\nz 1\n"), 1);
        assert_eq!(after.total(), 5);
    }
}
