//! One window's counts: `StackId -> count` over a shared [`StackTable`], and the
//! conversion to and from the folded trace-log format.
//!
//! This is the state an aggregator actor holds; it knows nothing about actors or storage.
//! References: every stack counted here holds one reference in the table, handed over by
//! the caller with each new sample ([`WindowCounts::add`]) and given back by
//! [`WindowCounts::release_all`] when the window is dropped.

use crate::ingest::frame_order;
use crate::ingest::stack_counts::StackCounts;
use crate::ingest::stacks::{FrameId, StackId, StackTable};
use crate::store::folded::{self, FoldedWriter};
use crate::store::packed;

/// The counts of one (period, window, channel, entry point).
#[derive(Default)]
pub struct WindowCounts {
    counts: StackCounts,
    total: u64,
}

/// A window's stacks copied out of the table as frame ids, with the text of the frames they
/// use, ready to encode away from the ingest thread. It holds about 4 bytes per frame of
/// each stack (a twelfth of the stacks' text for 3 KB stacks of about 65 frames) and never
/// the stacks' text.
pub struct Snapshot {
    /// The frame ids of every stack, one stack after another.
    frame_ids: Vec<FrameId>,
    stacks: Vec<StackSpan>,
    frames: FrameTexts,
    /// Sum of the stacks' text lengths: sizes the output buffer.
    text_bytes: usize,
    samples: u64,
}

/// One stack of a [`Snapshot`]: where its frame ids are, and its count.
struct StackSpan {
    start: usize,
    len: usize,
    count: u64,
}

/// The text of the frames a [`Snapshot`] uses, indexed by the table's frame ids.
struct FrameTexts {
    text: Vec<u8>,
    /// `(start, end)` in `text` per frame id; frames not used are empty.
    spans: Vec<(usize, usize)>,
}

impl FrameTexts {
    fn text(&self, frame: FrameId) -> &[u8] {
        self.spans
            .get(frame as usize)
            .map_or(&[][..], |&(start, end)| &self.text[start..end])
    }
}

impl Snapshot {
    fn ids(&self, stack: &StackSpan) -> &[FrameId] {
        &self.frame_ids[stack.start..stack.start + stack.len]
    }

    /// Bytewise order of two stacks' text, by their frames.
    fn compare(&self, a: &StackSpan, b: &StackSpan) -> std::cmp::Ordering {
        let (a, b) = (self.ids(a), self.ids(b));
        // Equal ids are equal frames: skip the root path both share by id (one integer
        // comparison a frame), then compare text from the last shared frame on. The texts
        // agree up to that frame, so this orders them as their whole text would.
        let shared = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        let from = shared.saturating_sub(1);
        frame_order::compare(
            a[from..].iter().map(|&f| self.frames.text(f)),
            b[from..].iter().map(|&f| self.frames.text(f)),
        )
    }

    /// The window's log, a [`packed`] trace: the stacks sorted bytewise (by
    /// [`frame_order`], without building their text) and written straight into the packed
    /// writer, whose columns are the only buffer that grows with the window. The bytes are
    /// those of the text-sorting encoder ([`WindowCounts::text_snapshot`]) exactly.
    pub fn encode(self) -> Encoded {
        self.encode_into(packed::Writer::new())
    }

    /// The window as gzip'd folded text at gzip `level`: a section of stream mode's
    /// transient segments (cut out of a segment by byte range, merged at seal time).
    pub fn encode_section(self, level: u32) -> Encoded {
        let capacity = self.text_bytes + 12 * self.stacks.len();
        self.encode_into(FoldedWriter::with_level(capacity, level))
    }

    /// Sort the stacks and write them with `writer`.
    fn encode_into(mut self, mut writer: impl StackWriter) -> Encoded {
        let mut stacks = std::mem::take(&mut self.stacks);
        stacks.sort_unstable_by(|a, b| self.compare(a, b));
        for stack in &stacks {
            let frames = self.ids(stack).iter().map(|&f| self.frames.text(f));
            writer.push_frames(frames, stack.count);
        }
        Encoded {
            bytes: writer.finish(),
            stacks: stacks.len(),
            samples: self.samples,
        }
    }
}

/// What writes a log from stacks given in folded-log order: a packed trace or folded text.
trait StackWriter {
    fn push_frames<'f>(&mut self, frames: impl IntoIterator<Item = &'f [u8]>, count: u64);
    fn finish(self) -> Vec<u8>;
}

impl StackWriter for packed::Writer {
    fn push_frames<'f>(&mut self, frames: impl IntoIterator<Item = &'f [u8]>, count: u64) {
        packed::Writer::push_frames(self, frames, count);
    }

    fn finish(self) -> Vec<u8> {
        packed::Writer::finish(self)
    }
}

impl StackWriter for FoldedWriter {
    fn push_frames<'f>(&mut self, frames: impl IntoIterator<Item = &'f [u8]>, count: u64) {
        FoldedWriter::push_frames(self, frames, count);
    }

    fn finish(self) -> Vec<u8> {
        FoldedWriter::finish(self)
    }
}

/// A window's stacks copied out of the table as text: how checkpoints worked before
/// [`Snapshot`]. It holds the whole text of the window, which for a diverse daily window is
/// gigabytes; kept as the reference that tests compare [`Snapshot::encode`] against and that
/// `benches/checkpoint.rs` measures, not used by the service.
pub struct TextSnapshot {
    text: Vec<u8>,
    stacks: Vec<TextSpan>,
    samples: u64,
}

struct TextSpan {
    start: usize,
    len: usize,
    count: u64,
}

impl TextSnapshot {
    /// Sort the stacks bytewise by their text and write them as a packed trace log.
    pub fn encode(mut self) -> Encoded {
        let text = &self.text;
        let stack = |r: &TextSpan| &text[r.start..r.start + r.len];
        self.stacks.sort_unstable_by(|a, b| stack(a).cmp(stack(b)));
        let mut writer = packed::Writer::new();
        for r in &self.stacks {
            writer.push(stack(r), r.count);
        }
        Encoded {
            bytes: writer.finish(),
            stacks: self.stacks.len(),
            samples: self.samples,
        }
    }
}

/// The result of encoding a window as a trace log.
pub struct Encoded {
    /// The trace log: a [`packed`] trace (or, for a segment section, gzip'd folded text).
    pub bytes: Vec<u8>,
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
    /// the reference is kept when the stack is new here and given back otherwise (and when
    /// `count` is 0, which counts nothing).
    pub fn add(&mut self, table: &mut StackTable, id: StackId, count: u64) {
        if count == 0 {
            // Nothing to count (samples and log lines have counts of at least 1).
            table.release(id);
            return;
        }
        // Counts from stored logs may be anything up to u64::MAX.
        self.total = self.total.saturating_add(count);
        if !self.counts.add(id, count, table.stack_id_bound()) {
            // Cannot free the stack: this window still holds its own reference.
            table.release(id);
        }
    }

    /// Merge a trace log's text (already decoded) into this window. Returns the number of
    /// malformed lines skipped.
    pub fn merge_folded(&mut self, table: &mut StackTable, text: &[u8]) -> u64 {
        let mut malformed = 0;
        for line in crate::ingest::sample::lines(text) {
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

    /// Copy the window's stacks out of the table as frame ids, with their counts and the
    /// text of the frames they use, unsorted. This is the only part of a checkpoint that
    /// needs the table, and it runs on the ingest thread, so it does no more than that: a
    /// copy of each stack's ids and one pass over them to see which frames are used.
    /// Sorting and compressing, the expensive part, happen in [`Snapshot::encode`], on any
    /// thread.
    pub fn snapshot(&self, table: &StackTable) -> Snapshot {
        // In id order, the table's stacks (and mostly their frame lists, allocated as they
        // were interned) are read front to back instead of at random: sorting the ids
        // first costs less than the cache misses it saves on a large window.
        let mut by_id: Vec<(StackId, u64)> = self.counts.iter().collect();
        by_id.sort_unstable_by_key(|&(id, _)| id);
        let mut frame_ids: Vec<FrameId> = Vec::new();
        let mut stacks = Vec::with_capacity(by_id.len());
        let mut used = vec![false; table.frame_id_bound()];
        let mut text_bytes = 0;
        for (id, count) in by_id {
            let ids = table.frame_ids(id);
            for &frame in ids {
                if let Some(mark) = used.get_mut(frame as usize) {
                    *mark = true;
                }
            }
            stacks.push(StackSpan {
                start: frame_ids.len(),
                len: ids.len(),
                count,
            });
            frame_ids.extend_from_slice(ids);
            text_bytes += table.text_len(id);
        }
        let mut text = Vec::new();
        let spans = used
            .iter()
            .enumerate()
            .map(|(frame, &used)| {
                let start = text.len();
                if used {
                    // Frame ids fit in a u32: they index a table of at most 2^32 frames.
                    text.extend_from_slice(table.frame_text(frame as FrameId));
                }
                (start, text.len())
            })
            .collect();
        Snapshot {
            frame_ids,
            stacks,
            frames: FrameTexts { text, spans },
            text_bytes,
            samples: self.total,
        }
    }

    /// Copy the window's stacks out of the table as text, as checkpoints did before
    /// [`snapshot`](Self::snapshot): the reference for tests and the checkpoint benchmark.
    pub fn text_snapshot(&self, table: &StackTable) -> TextSnapshot {
        let text_bytes: usize = self.counts.iter().map(|(id, _)| table.text_len(id)).sum();
        let mut text = Vec::with_capacity(text_bytes);
        let mut stacks = Vec::with_capacity(self.counts.len());
        for (id, count) in self.counts.iter() {
            let start = text.len();
            table.write_text(id, &mut text);
            stacks.push(TextSpan {
                start,
                len: text.len() - start,
                count,
            });
        }
        TextSnapshot {
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
        for (id, _) in self.counts.take().iter() {
            table.release(id);
        }
        self.total = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::compress;

    fn add(window: &mut WindowCounts, table: &mut StackTable, stack: &str, count: u64) {
        let id = table.intern(stack.as_bytes());
        table.retain(id);
        window.add(table, id, count);
    }

    #[test]
    fn counts_from_stored_logs_saturate_instead_of_overflowing() {
        let mut table = StackTable::new();
        let mut w = WindowCounts::new();
        let malformed = w.merge_folded(
            &mut table,
            b"a;b 18446744073709551615
a;b 5
c 1
",
        );
        assert_eq!(malformed, 0);
        assert_eq!(w.total(), u64::MAX);
        let encoded = w.encode(&table);
        assert_eq!(
            &*compress::maybe_gunzip(&encoded.bytes).unwrap(),
            b"a;b 18446744073709551615\nc 1\n"
        );
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
            &*compress::maybe_gunzip(&encoded.bytes).unwrap(),
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
        let log = compress::maybe_gunzip(&w.encode(&table).bytes)
            .unwrap()
            .into_owned();
        let stacks: Vec<&[u8]> = log
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| crate::store::folded::parse_line(l).unwrap().0)
            .collect();
        let mut expected: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
        expected.sort();
        assert_eq!(stacks, expected);
    }

    /// The streaming encoder must write exactly the bytes the text-sorting one writes.
    fn assert_same_log_as_text_encoder(w: &WindowCounts, table: &StackTable) {
        let by_text = w.text_snapshot(table).encode();
        let by_frames = w.snapshot(table).encode();
        assert_eq!(
            (by_frames.stacks, by_frames.samples),
            (by_text.stacks, by_text.samples)
        );
        assert!(by_frames.bytes == by_text.bytes, "gzip bytes differ");
    }

    #[test]
    fn awkward_stacks_encode_to_the_same_bytes_as_sorting_their_text() {
        let texts = [
            "a;b!",
            "a;b;x",
            "a;b<",
            "a;b",
            "a;b;c",
            "a;b;",
            "a;;b",
            ";a",
            "a",
            "a b;c",
            "a;b c",
            "a:b",
            "a<b",
            "a;b:",
            "a;b;c;d;e",
            "a;b;c;d!",
            "b",
            "B",
            "a;B;c",
            "?",
            "a;b  x",
        ];
        let mut table = StackTable::new();
        let mut w = WindowCounts::new();
        for (i, t) in texts.iter().enumerate() {
            add(&mut w, &mut table, t, 1 + (i as u64 * 7919) % 13);
        }
        add(&mut w, &mut table, "a;b", u64::MAX / 2);
        assert_same_log_as_text_encoder(&w, &table);
        let log = compress::maybe_gunzip(&w.snapshot(&table).encode().bytes)
            .unwrap()
            .into_owned();
        let mut expected: Vec<&str> = texts.to_vec();
        expected.sort();
        let got: Vec<&str> = std::str::from_utf8(&log)
            .unwrap()
            .lines()
            .map(|l| l.rsplit_once(' ').unwrap().0)
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn random_stacks_encode_to_the_same_bytes_as_sorting_their_text() {
        use rand::{Rng, SeedableRng};
        // Few distinct frames, several of them prefixes of others or ending in bytes just
        // below and above `;`, so neighbours in the sort share long prefixes and differ
        // where one frame ends and another goes on.
        let frames = [
            "a", "ab", "a!", "a:", "a<", "a ", "", "b", "ab;", "A", "a<b", "zz",
        ];
        for seed in 0..4 {
            let mut rng = rand_pcg::Pcg32::seed_from_u64(seed);
            let mut table = StackTable::new();
            let mut w = WindowCounts::new();
            for _ in 0..3000 {
                let depth = rng.random_range(1..9);
                let stack: Vec<&str> = (0..depth)
                    .map(|_| frames[rng.random_range(0..frames.len())])
                    .collect();
                add(&mut w, &mut table, &stack.join(";"), rng.random_range(1..5));
            }
            assert!(w.distinct() > 1000, "{}", w.distinct());
            assert_same_log_as_text_encoder(&w, &table);
        }
    }

    #[test]
    fn synthetic_stacks_encode_to_the_same_bytes_as_sorting_their_text() {
        let mut generator = crate::ingest::synth::Generator::new(3);
        let mut table = StackTable::new();
        let mut w = WindowCounts::new();
        let mut line = Vec::new();
        for _ in 0..3000 {
            line.clear();
            generator.next_sample(&mut line);
            let (stack, count) = folded::parse_line(&line).unwrap();
            let id = table.intern(stack);
            table.retain(id);
            w.add(&mut table, id, count);
        }
        assert_same_log_as_text_encoder(&w, &table);
    }

    #[test]
    fn a_window_holding_most_of_the_tables_stacks_encodes_and_releases_like_a_small_one() {
        let mut generator = crate::ingest::synth::Generator::new(5);
        let mut table = StackTable::new();
        // `all` gets every sample and turns into an array; `index` gets about half of them.
        let mut all = WindowCounts::new();
        let mut index = WindowCounts::new();
        let mut line = Vec::new();
        for _ in 0..20_000 {
            line.clear();
            generator.next_sample(&mut line);
            let (stack, count) = folded::parse_line(&line).unwrap();
            let id = table.intern(stack);
            table.retain(id);
            all.add(&mut table, id, count);
            if crate::ingest::sample::entry_point(stack) == Some("index") {
                table.retain(id);
                index.add(&mut table, id, count);
            }
        }
        assert!(all.counts.is_dense(), "{} stacks", all.distinct());
        assert_eq!(all.distinct(), table.len());
        assert_same_log_as_text_encoder(&all, &table);
        assert_same_log_as_text_encoder(&index, &table);
        all.release_all(&mut table);
        assert_eq!((all.distinct(), all.total()), (0, 0));
        assert_eq!(
            table.len(),
            index.distinct(),
            "index still holds its stacks"
        );
        index.release_all(&mut table);
        assert_eq!((table.len(), table.frame_count()), (0, 0));
    }

    #[test]
    fn a_snapshot_does_not_depend_on_the_table_after_it_is_taken() {
        let mut table = StackTable::new();
        let mut w = WindowCounts::new();
        add(&mut w, &mut table, "main;b;c", 2);
        add(&mut w, &mut table, "main;a", 1);
        let snapshot = w.snapshot(&table);
        // The window closes and other stacks reuse its stack and frame slots.
        w.release_all(&mut table);
        assert_eq!(table.frame_count(), 0);
        let mut other = WindowCounts::new();
        add(&mut other, &mut table, "x;y;z;w", 5);
        let encoded = snapshot.encode();
        assert_eq!(
            &*compress::maybe_gunzip(&encoded.bytes).unwrap(),
            b"main;a 1\nmain;b;c 2\n"
        );
        assert_eq!((encoded.stacks, encoded.samples), (2, 3));
    }

    #[test]
    fn an_empty_window_encodes_like_the_text_encoder() {
        let table = StackTable::new();
        assert_same_log_as_text_encoder(&WindowCounts::new(), &table);
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
        let log = compress::maybe_gunzip(&before.encode(&table).bytes)
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
