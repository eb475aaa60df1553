//! Interned stacks: each distinct stack is stored once, as a list of interned frames, and
//! named by a small [`StackId`].
//!
//! Real stacks are 1 to 10 KB of text but are made of a few thousand distinct frames, and
//! every sample counts in several windows at once (hourly and daily, its entry point and
//! `all`). Storing each stack's text once, as 4-byte frame ids, and letting aggregators
//! count `StackId -> count`, keeps memory to a fraction of the text it represents.
//!
//! Entries are reference counted: an aggregator holds one reference per stack it counts,
//! and a stack (and then its frames) is freed when the last window holding it closes.
//!
//! A stack's frame ids live in one arena shared by all stacks (a slice of it per stack)
//! rather than in an allocation of their own: on a window's first million samples, a
//! quarter of them new stacks, allocating one array per new stack took more time than all
//! the rest of ingest (the allocator searching free lists full of freed message buffers).
//! Freed stacks leave holes in the arena; it is compacted when the holes outgrow the live
//! ids, so it stays within twice the live ids.
//!
//! A stack is identified by its length and a 128-bit keyed hash of its text (XXH3-128 with
//! a per-process random seed), and a frame by the 128-bit hash of its text, not by
//! comparing texts: re-reading a stack's ~100
//! scattered frames to confirm a match cost 0.9 µs per sample, most of the ingest budget
//! (see BENCHMARKS.md). Two distinct stacks of equal length sharing a 128-bit hash within
//! one process is a chance of about n²/2^129 (1e-25 for ten million stacks).

use std::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};

/// Names one distinct stack in a [`StackTable`].
pub type StackId = u32;

/// Names one distinct frame in a [`StackTable`].
pub type FrameId = u32;

struct Frame {
    text: Box<[u8]>,
    hash: u128,
}

/// An entry of the frame index: the frame's 128-bit hash lives in the entry itself, so a
/// lookup never leaves the index (on a new stack, ~65 lookups that used to miss the cache
/// twice each: once for the frame, once for its text).
#[derive(Clone, Copy)]
struct FrameSlot {
    hash: u128,
    id: FrameId,
    /// References to the frame (one per use in a live stack), kept in the entry that a
    /// lookup reads anyway (the entry's padding had room for it).
    refs: u32,
}

struct Stack {
    hash: u128,
    /// Where the stack's frame ids start in [`StackTable::frame_arena`].
    frames_start: usize,
    /// How many frames the stack has.
    frames_len: u32,
    text_len: u32,
    refs: u32,
}

impl Stack {
    fn frames(&self) -> std::ops::Range<usize> {
        self.frames_start..self.frames_start + self.frames_len as usize
    }
}

/// The arena is compacted only once its holes exceed this many ids (256 KB), so small tables
/// are not compacted over and over.
const MIN_ARENA_HOLES_TO_COMPACT: usize = 1 << 16;

/// The interner: stack text <-> [`StackId`].
pub struct StackTable {
    stack_seed: u64,
    frames: Vec<Option<Frame>>,
    frame_index: HashTable<FrameSlot>,
    free_frames: Vec<FrameId>,
    stacks: Vec<Option<Stack>>,
    stack_index: HashTable<StackId>,
    free_stacks: Vec<StackId>,
    /// The frame ids of every stack, each stack's a contiguous slice ([`Stack::frames`]).
    frame_arena: Vec<FrameId>,
    /// Ids in `frame_arena` that belong to no live stack.
    arena_holes: usize,
    /// Fewest holes worth a compaction ([`MIN_ARENA_HOLES_TO_COMPACT`]; tests lower it).
    min_holes_to_compact: usize,
    live_stacks: usize,
    live_text_bytes: u64,
    /// Where the `;` of the stack being added are (kept to reuse its allocation).
    separators: Vec<usize>,
}

impl Default for StackTable {
    fn default() -> Self {
        Self::new()
    }
}

impl StackTable {
    /// An empty table.
    pub fn new() -> Self {
        StackTable {
            stack_seed: std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64),
            frames: Vec::new(),
            frame_index: HashTable::new(),
            free_frames: Vec::new(),
            stacks: Vec::new(),
            stack_index: HashTable::new(),
            free_stacks: Vec::new(),
            frame_arena: Vec::new(),
            arena_holes: 0,
            min_holes_to_compact: MIN_ARENA_HOLES_TO_COMPACT,
            live_stacks: 0,
            live_text_bytes: 0,
            separators: Vec::new(),
        }
    }

    /// The id of `stack` (frames separated by `;`), adding it when new. A new stack has no
    /// references: the caller [`retain`](Self::retain)s it for every holder.
    pub fn intern(&mut self, stack: &[u8]) -> StackId {
        let hash = xxhash_rust::xxh3::xxh3_128_with_seed(stack, self.stack_seed);
        let text_len = u32::try_from(stack.len()).unwrap_or(u32::MAX);
        let StackTable {
            stacks,
            stack_index,
            ..
        } = self;
        let matches = |id: &StackId| {
            let s = slot(stacks, *id);
            s.hash == hash && s.text_len == text_len
        };
        if let Some(&id) = stack_index.find(hash as u64, matches) {
            return id;
        }
        let frames_start = self.frame_arena.len();
        let mut separators = std::mem::take(&mut self.separators);
        crate::ingest::line_scan::separator_positions(stack, &mut separators);
        self.frame_arena.reserve(separators.len() + 1);
        let mut start = 0;
        for &end in separators.iter().chain(std::iter::once(&stack.len())) {
            let frame = self.intern_frame(&stack[start..end]);
            self.frame_arena.push(frame);
            start = end + 1;
        }
        self.separators = separators;
        let entry = Stack {
            hash,
            frames_start,
            frames_len: u32::try_from(self.frame_arena.len() - frames_start)
                .expect("a stack has fewer than 2^32 frames"),
            text_len,
            refs: 0,
        };
        let id = match self.free_stacks.pop() {
            Some(id) => {
                self.stacks[id as usize] = Some(entry);
                id
            }
            None => {
                self.stacks.push(Some(entry));
                StackId::try_from(self.stacks.len() - 1).expect("fewer than 2^32 live stacks")
            }
        };
        let StackTable {
            stacks,
            stack_index,
            ..
        } = self;
        stack_index.insert_unique(hash as u64, id, |&other| slot(stacks, other).hash as u64);
        self.live_stacks += 1;
        self.live_text_bytes += stack.len() as u64;
        id
    }

    fn intern_frame(&mut self, text: &[u8]) -> FrameId {
        let hash = xxhash_rust::xxh3::xxh3_128_with_seed(text, self.stack_seed);
        let StackTable {
            frames,
            frame_index,
            free_frames,
            ..
        } = self;
        let entry = frame_index.entry(
            hash as u64,
            |slot| slot.hash == hash,
            |slot| slot.hash as u64,
        );
        match entry {
            Entry::Occupied(mut occupied) => {
                let slot = occupied.get_mut();
                slot.refs += 1;
                slot.id
            }
            Entry::Vacant(vacant) => {
                let new = Frame {
                    text: text.into(),
                    hash,
                };
                let id = match free_frames.pop() {
                    Some(id) => {
                        frames[id as usize] = Some(new);
                        id
                    }
                    None => {
                        frames.push(Some(new));
                        FrameId::try_from(frames.len() - 1).expect("fewer than 2^32 live frames")
                    }
                };
                vacant.insert(FrameSlot { hash, id, refs: 1 });
                id
            }
        }
    }

    /// Add a reference to `id`.
    pub fn retain(&mut self, id: StackId) {
        if let Some(stack) = self.stacks.get_mut(id as usize).and_then(Option::as_mut) {
            stack.refs += 1;
        }
    }

    /// Drop a reference to `id`, freeing the stack when it was the last one.
    pub fn release(&mut self, id: StackId) {
        let Some(stack) = self.stacks.get_mut(id as usize).and_then(Option::as_mut) else {
            return;
        };
        stack.refs = stack.refs.saturating_sub(1);
        if stack.refs > 0 {
            return;
        }
        let hash = stack.hash;
        if let Ok(found) = self
            .stack_index
            .find_entry(hash as u64, |&other| other == id)
        {
            found.remove();
        }
        let Some(freed) = self.stacks[id as usize].take() else {
            return;
        };
        self.free_stacks.push(id);
        self.live_stacks -= 1;
        self.live_text_bytes -= u64::from(freed.text_len);
        for at in freed.frames() {
            self.release_frame(self.frame_arena[at]);
        }
        self.arena_holes += freed.frames_len as usize;
        if self.arena_holes > self.min_holes_to_compact
            && self.arena_holes > self.frame_arena.len() - self.arena_holes
        {
            self.compact_arena();
        }
    }

    /// Copy the live stacks' frame ids into a new arena without holes. It runs when the
    /// holes outnumber the live ids, so each id is copied at most once per halving of the
    /// table: this is amortized over the releases that made the holes.
    fn compact_arena(&mut self) {
        let mut arena = Vec::with_capacity(self.frame_arena.len() - self.arena_holes);
        for stack in self.stacks.iter_mut().flatten() {
            let start = arena.len();
            arena.extend_from_slice(&self.frame_arena[stack.frames()]);
            stack.frames_start = start;
        }
        self.frame_arena = arena;
        self.arena_holes = 0;
    }

    fn release_frame(&mut self, id: FrameId) {
        let Some(hash) = self
            .frames
            .get(id as usize)
            .and_then(Option::as_ref)
            .map(|f| f.hash)
        else {
            return;
        };
        let Ok(mut found) = self
            .frame_index
            .find_entry(hash as u64, |slot| slot.id == id)
        else {
            return;
        };
        let slot = found.get_mut();
        slot.refs = slot.refs.saturating_sub(1);
        if slot.refs > 0 {
            return;
        }
        found.remove();
        self.frames[id as usize] = None;
        self.free_frames.push(id);
    }

    /// The frames of stack `id`, in order from the root.
    pub fn frames(&self, id: StackId) -> impl Iterator<Item = &[u8]> + '_ {
        self.frame_ids(id)
            .iter()
            .map(|&f| frame(&self.frames, f).text.as_ref())
    }

    /// The frame ids of stack `id`, in order from the root (empty for a stack not held).
    /// With [`frame_text`](Self::frame_text), this copies a stack out at 4 bytes a frame
    /// instead of its text (checkpoints sort and write away from the table).
    pub fn frame_ids(&self, id: StackId) -> &[FrameId] {
        self.stacks
            .get(id as usize)
            .and_then(Option::as_ref)
            .map_or(&[][..], |s| &self.frame_arena[s.frames()])
    }

    /// The text of frame `frame` (empty for a frame not held).
    pub fn frame_text(&self, frame: FrameId) -> &[u8] {
        self.frames
            .get(frame as usize)
            .and_then(Option::as_ref)
            .map_or(&[][..], |f| &f.text[..])
    }

    /// One more than the largest frame id that may be in use: the size of a table indexed
    /// by [`FrameId`].
    pub fn frame_id_bound(&self) -> usize {
        self.frames.len()
    }

    /// Append the text of stack `id` to `out`.
    pub fn write_text(&self, id: StackId, out: &mut Vec<u8>) {
        for (i, f) in self.frames(id).enumerate() {
            if i > 0 {
                out.push(b';');
            }
            out.extend_from_slice(f);
        }
    }

    /// One more than the largest stack id that may be in use: the size of a table indexed
    /// by [`StackId`].
    pub fn stack_id_bound(&self) -> usize {
        self.stacks.len()
    }

    /// Length of stack `id`'s text in bytes.
    pub fn text_len(&self, id: StackId) -> usize {
        self.stacks
            .get(id as usize)
            .and_then(Option::as_ref)
            .map_or(0, |s| s.text_len as usize)
    }

    /// Number of distinct stacks held.
    pub fn len(&self) -> usize {
        self.live_stacks
    }

    /// True when no stack is held.
    pub fn is_empty(&self) -> bool {
        self.live_stacks == 0
    }

    /// Total text size of the stacks held, in bytes: what they would take as plain lines.
    pub fn text_bytes_held(&self) -> u64 {
        self.live_text_bytes
    }

    /// Number of distinct frames held.
    pub fn frame_count(&self) -> usize {
        self.frames.len() - self.free_frames.len()
    }
}

fn slot(stacks: &[Option<Stack>], id: StackId) -> &Stack {
    stacks[id as usize]
        .as_ref()
        .expect("indexed stacks are live")
}

fn frame(frames: &[Option<Frame>], id: FrameId) -> &Frame {
    frames[id as usize]
        .as_ref()
        .expect("referenced frames are live")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(table: &StackTable, id: StackId) -> String {
        let mut out = Vec::new();
        table.write_text(id, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_same_text_gets_the_same_id_and_round_trips() {
        let mut table = StackTable::new();
        let a = table.intern(b"main;Foo::bar;Baz::qux");
        let b = table.intern(b"main;Foo::bar");
        assert_ne!(a, b);
        assert_eq!(table.intern(b"main;Foo::bar;Baz::qux"), a);
        assert_eq!(text(&table, a), "main;Foo::bar;Baz::qux");
        assert_eq!(table.len(), 2);
        assert_eq!(table.frame_count(), 3);
    }

    #[test]
    fn similar_texts_are_distinct_stacks() {
        let mut table = StackTable::new();
        let ids: Vec<StackId> = ["a;b", "a;b;", "a;;b", "ab", "a;bc", ";a;b"]
            .iter()
            .map(|s| table.intern(s.as_bytes()))
            .collect();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        for (id, s) in ids
            .iter()
            .zip(["a;b", "a;b;", "a;;b", "ab", "a;bc", ";a;b"])
        {
            assert_eq!(text(&table, *id), s);
        }
    }

    #[test]
    fn frame_ids_name_the_frames_of_the_text() {
        let mut table = StackTable::new();
        let a = table.intern(b"main;;Foo::bar;main");
        let ids = table.frame_ids(a).to_vec();
        assert_eq!(ids.len(), 4);
        assert_eq!(ids[0], ids[3], "equal frames share an id");
        let texts: Vec<&[u8]> = ids.iter().map(|&f| table.frame_text(f)).collect();
        assert_eq!(texts, [&b"main"[..], b"", b"Foo::bar", b"main"]);
        assert!(ids.iter().all(|&f| (f as usize) < table.frame_id_bound()));
        assert!(table.frame_ids(a + 1).is_empty());
        assert!(table.frame_text(u32::MAX).is_empty());
    }

    #[test]
    fn releasing_the_last_reference_frees_stack_and_frames() {
        let mut table = StackTable::new();
        let a = table.intern(b"x;y");
        table.retain(a);
        table.retain(a);
        table.release(a);
        assert_eq!(table.len(), 1);
        table.release(a);
        assert_eq!(table.len(), 0);
        assert_eq!(table.frame_count(), 0);
        assert_eq!(table.text_bytes_held(), 0);
        // The slot is reused and the old text is not found any more.
        let b = table.intern(b"x;z");
        assert_eq!(text(&table, b), "x;z");
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn a_stack_freed_and_interned_again_round_trips() {
        let mut table = StackTable::new();
        let a = table.intern(b"main;Foo::bar;Baz::qux");
        table.retain(a);
        table.release(a);
        assert_eq!((table.len(), table.frame_count()), (0, 0));
        let again = table.intern(b"main;Foo::bar;Baz::qux");
        table.retain(again);
        assert_eq!(text(&table, again), "main;Foo::bar;Baz::qux");
        assert_eq!(table.intern(b"main;Foo::bar;Baz::qux"), again);
        assert_eq!((table.len(), table.frame_count()), (1, 3));
        assert_eq!(table.text_bytes_held(), 22);
    }

    #[test]
    fn frames_are_freed_when_the_last_stack_using_them_goes() {
        let mut table = StackTable::new();
        let ids: Vec<StackId> = ["a;b;c", "a;b;d", "a;x"]
            .iter()
            .map(|s| {
                let id = table.intern(s.as_bytes());
                table.retain(id);
                id
            })
            .collect();
        assert_eq!(table.frame_count(), 5);
        table.release(ids[0]);
        // c went with its only stack; a and b are still used.
        assert_eq!(table.frame_count(), 4);
        assert_eq!(text(&table, ids[1]), "a;b;d");
        table.release(ids[1]);
        assert_eq!(table.frame_count(), 2);
        assert_eq!(text(&table, ids[2]), "a;x");
        // A freed frame's id is reused for a new frame, which reads back as itself.
        let new = table.intern(b"a;y;b");
        table.retain(new);
        assert_eq!(text(&table, new), "a;y;b");
        assert_eq!(table.frame_count(), 4);
        table.release(ids[2]);
        table.release(new);
        assert_eq!((table.len(), table.frame_count()), (0, 0));
    }

    #[test]
    fn a_frame_repeated_in_one_stack_is_counted_per_use() {
        let mut table = StackTable::new();
        let recursive = table.intern(b"r;r;r");
        table.retain(recursive);
        let single = table.intern(b"r");
        table.retain(single);
        assert_eq!(table.frame_count(), 1);
        table.release(recursive);
        assert_eq!(table.frame_count(), 1);
        assert_eq!(text(&table, single), "r");
        table.release(single);
        assert_eq!(table.frame_count(), 0);
    }

    #[test]
    fn a_compacted_arena_keeps_every_live_stack() {
        let mut table = StackTable::new();
        let texts: Vec<String> = (0..3_000)
            .map(|i| {
                std::iter::once(format!("root{i}"))
                    .chain((1..40).map(|f| format!("f{}", (i * 7 + f * 13) % 997)))
                    .collect::<Vec<_>>()
                    .join(";")
            })
            .collect();
        let ids: Vec<StackId> = texts
            .iter()
            .map(|t| {
                let id = table.intern(t.as_bytes());
                table.retain(id);
                id
            })
            .collect();
        assert_eq!(table.frame_arena.len(), 3_000 * 40);
        // Free all but every fourth stack: 90,000 holes against 30,000 live ids.
        for (i, &id) in ids.iter().enumerate() {
            if i % 4 != 0 {
                table.release(id);
            }
        }
        assert!(table.frame_arena.len() < 3_000 * 40, "compacted");
        assert_eq!(
            table.frame_arena.len() - table.arena_holes,
            750 * 40,
            "only live ids are left"
        );
        for (i, (&id, t)) in ids.iter().zip(&texts).enumerate() {
            if i % 4 == 0 {
                assert_eq!(&text(&table, id), t);
                assert_eq!(table.intern(t.as_bytes()), id);
            }
        }
    }

    /// A deterministic pseudo-random sequence (the test needs no crate).
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) % n as u64) as usize
        }
    }

    #[test]
    fn churn_keeps_stacks_frames_and_references_exact() {
        use std::collections::{BTreeMap, BTreeSet};
        let alphabet: Vec<String> = (0..600)
            .map(|i| format!("Ns\\Class{i}::method{}", "x".repeat(i % 7)))
            .collect();
        let mut rng = Lcg(42);
        let mut table = StackTable::new();
        // Compact the frame-id arena as soon as it has holes, over and over.
        table.min_holes_to_compact = 8;
        let mut compactions = 0;
        // The model: live stack text -> (id, references).
        let mut model: BTreeMap<String, (StackId, u32)> = BTreeMap::new();
        for step in 0..20_000 {
            let releasing = !model.is_empty() && rng.below(100) < 48;
            if releasing {
                let key = model.keys().nth(rng.below(model.len())).unwrap().clone();
                let (id, refs) = model.get_mut(&key).unwrap();
                let id = *id;
                *refs -= 1;
                if *refs == 0 {
                    model.remove(&key);
                }
                let arena_before = table.frame_arena.len();
                table.release(id);
                if table.frame_arena.len() < arena_before {
                    compactions += 1;
                }
            } else {
                // Stacks share a root and wander over a slowly moving part of the alphabet,
                // so frames come and go and ids are reused.
                let base = (step / 40) % 500;
                let depth = 1 + rng.below(6);
                let text = std::iter::once("root".to_owned())
                    .chain((0..depth).map(|_| alphabet[base + rng.below(100)].clone()))
                    .collect::<Vec<_>>()
                    .join(";");
                let id = table.intern(text.as_bytes());
                table.retain(id);
                let entry = model.entry(text).or_insert((id, 0));
                assert_eq!(entry.0, id, "a live stack keeps its id");
                entry.1 += 1;
            }
            if step % 97 == 0 {
                assert_eq!(table.len(), model.len());
                let frames: BTreeSet<&str> = model.keys().flat_map(|t| t.split(';')).collect();
                assert_eq!(table.frame_count(), frames.len());
                let bytes: usize = model.keys().map(String::len).sum();
                assert_eq!(table.text_bytes_held(), bytes as u64);
                for (t, &(id, _)) in &model {
                    assert_eq!(&text(&table, id), t);
                    assert_eq!(table.text_len(id), t.len());
                }
                let live_ids: usize = model.keys().map(|t| t.split(';').count()).sum();
                assert_eq!(table.frame_arena.len() - table.arena_holes, live_ids);
                assert!(table.arena_holes <= live_ids.max(8), "holes stay bounded");
            }
        }
        assert!(
            compactions > 100,
            "the arena was compacted ({compactions} times)"
        );
        for (_, (id, refs)) in std::mem::take(&mut model) {
            for _ in 0..refs {
                table.release(id);
            }
        }
        assert_eq!((table.len(), table.frame_count()), (0, 0));
        assert_eq!(table.text_bytes_held(), 0);
    }
}
