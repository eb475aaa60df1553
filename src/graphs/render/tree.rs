//! A flame graph's frame tree, pruned while it is built: fed stacks in inferno's merge order
//! (sorted bytewise), it keeps only the frames at least `cutoff` samples wide and hands back
//! `STACK COUNT` lines that inferno turns into the same flame graph as the whole input, in
//! memory proportional to the frames kept rather than to the input.
//!
//! inferno merges sorted lines into frames: a frame is a run of adjacent lines sharing a
//! prefix of frames, and it closes when the next line leaves that prefix. This module replays
//! that merge one line at a time. When a frame closes narrower than the cutoff, its whole
//! subtree is thrown away and replaced by a *filler*: a single leaf line carrying the
//! subtree's samples at the same place, so that every frame to its right keeps its exact
//! position. Adjacent fillers of one parent are summed while they stay under the cutoff.
//! Fillers are narrower than half the narrowest frame inferno draws, so inferno drops them
//! again, and every frame it does draw keeps its position, width and depth: the SVG is byte
//! for byte the one inferno makes from the full input (tested on realistic and awkward
//! input, forward and reversed).
//!
//! Three details of inferno's merge shape the output:
//! - Lines are trimmed, so a line must not end in a blank (a frame `q ` would turn into `q`).
//!   A filler therefore reaches down its first line until it ends in a frame that is safe.
//! - A line ending in a number after a blank (`a;x 5 3`) is read as a differential line, so
//!   such input is refused ([`TreeError::CountLikeEnd`]) and fillers never end that way.
//! - Sort order: `a;b0` sorts between `a;b` and `a;b;c` (`0` is below `;`), so frame `b`
//!   opens twice under `a`. Lines handed back stay sorted (a filler reaches down its first
//!   line until it sorts after what came before), and a filler between two runs of the same
//!   frame is never summed into the one before, which would let those runs merge.
//!
//! Differential trees ([`PrunedTree::new_differential`], for [`crate::graphs::diff`]) carry a second,
//! "before" count beside each line's samples and hand back inferno's differential
//! `STACK BEFORE AFTER` lines: a kept frame's own line has the before count of exactly its
//! stack, and a filler gets a before count equal to its samples (no change), since it is not
//! drawn and must not widen the colour scale, which inferno takes from every line's change.
//!
//! Memory: the frames kept, the fillers beside them (at most about two per cutoff's worth of
//! samples at each depth, plus one per gap between kept frames) and the frames of the line
//! being read; never the input.

use memchr::{memchr, memrchr};

/// Why a stack could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// Stacks must arrive in inferno's merge order.
    #[error(
        "stacks are not sorted bytewise: {current:?} came after {previous:?}; \
         sort the lines by stack first"
    )]
    Unsorted {
        /// The stack before (up to 200 bytes).
        previous: String,
        /// The stack that sorts before it (up to 200 bytes).
        current: String,
    },
    /// A stack ending in what inferno reads as a second sample count.
    #[error(
        "stack {0:?} ends in a blank and a number, which inferno reads as a sample count; \
         such input is rendered without pruning"
    )]
    CountLikeEnd(String),
    /// More than 2^64 samples.
    #[error("the sample counts add up to more than 2^64")]
    Overflow,
}

/// One frame kept, or one filler, in preorder (the order the output lines take).
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// 0 for a stack's first frame.
    depth: u32,
    /// Where this entry's text starts in [`PrunedTree::text`].
    text_start: usize,
    /// Bytes of the frame's own name at the start of its text.
    frame_len: usize,
    /// Bytes of text: the frame, and for a frame that would not be a safe filler line on its
    /// own, the frames of its first line down to one that is.
    text_len: usize,
    /// Kept frame: samples of the lines that end exactly here. Filler: its samples.
    count: u64,
    /// Differential trees: the "before" count of the lines that end exactly here.
    before: u64,
    /// A line ends exactly at this kept frame (so it has a line of its own).
    exact: bool,
    /// This entry is a filler leaf, not a frame.
    filler: bool,
}

/// A frame of the line being read, not yet closed.
#[derive(Debug, Clone, Copy)]
struct OpenFrame {
    /// Its entry.
    entry: usize,
    /// Where the frame ends in [`PrunedTree::previous`].
    end_byte: usize,
    /// Samples of its lines so far.
    total: u64,
}

/// A frame tree being built from sorted stacks (see the module documentation).
#[derive(Debug)]
pub struct PrunedTree {
    cutoff: f64,
    /// Hand back `STACK BEFORE AFTER` lines.
    differential: bool,
    entries: Vec<Entry>,
    text: Vec<u8>,
    open: Vec<OpenFrame>,
    /// The previous stack, trimmed.
    previous: Vec<u8>,
    started: bool,
    total: u64,
    lines_read: u64,
    dropped: u64,
}

/// What [`PrunedTree::finish`] hands back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunedLines {
    /// `STACK COUNT` lines (`STACK BEFORE AFTER` from a differential tree), each ending in
    /// `\n`, sorted bytewise by stack.
    pub text: String,
    /// Lines in `text`.
    pub lines: usize,
    /// Samples in all lines read (and in `text`).
    pub samples: u64,
    /// Lines read.
    pub lines_read: u64,
    /// Frames left out (each frame of a left-out subtree counted).
    pub dropped_frames: u64,
}

impl PrunedLines {
    /// The lines, without their `\n`.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.lines()
    }
}

impl PrunedTree {
    /// A tree keeping the frames of at least `cutoff` samples. For a graph drawn with
    /// inferno's `min_width` (percent), the cutoff is [`cutoff_for`] of the total.
    pub fn new(cutoff: f64) -> PrunedTree {
        PrunedTree {
            cutoff,
            differential: false,
            entries: Vec::new(),
            text: Vec::new(),
            open: Vec::new(),
            previous: Vec::new(),
            started: false,
            total: 0,
            lines_read: 0,
            dropped: 0,
        }
    }

    /// A differential tree (see the module documentation): stacks are added with
    /// [`Self::push_differential`] and [`Self::finish`] hands back `STACK BEFORE AFTER`
    /// lines. Pruning looks at the samples ("after" counts) only.
    pub fn new_differential(cutoff: f64) -> PrunedTree {
        PrunedTree {
            differential: true,
            ..PrunedTree::new(cutoff)
        }
    }

    /// Samples added so far.
    pub fn samples(&self) -> u64 {
        self.total
    }

    /// Frames kept plus fillers held right now: the memory this tree uses, in entries.
    pub fn entries_held(&self) -> usize {
        self.entries.len()
    }

    /// Add one line: `stack` (frames separated by `;`) with `count` samples. Stacks must
    /// come sorted bytewise after trimming (as inferno reads them); a stack equal to the
    /// previous one adds to it. A stack that is empty once trimmed is ignored, as inferno
    /// ignores it.
    pub fn push(&mut self, stack: &str, count: u64) -> Result<(), TreeError> {
        self.push_differential(stack, 0, count)
    }

    /// Add one line of a differential tree: `stack` with `before` and `count` ("after")
    /// samples, in the order [`Self::push`] needs. Only `count` adds to the samples.
    pub fn push_differential(
        &mut self,
        stack: &str,
        before: u64,
        count: u64,
    ) -> Result<(), TreeError> {
        let stack = stack.trim();
        if stack.is_empty() {
            return Ok(());
        }
        let stack = stack.as_bytes();
        if ends_in_count(last_frame(stack)) {
            return Err(TreeError::CountLikeEnd(excerpt(stack)));
        }
        let total = self.total.checked_add(count).ok_or(TreeError::Overflow)?;
        // Where this stack and the previous one first differ (the whole shorter one when
        // one is a prefix of the other).
        let differ_at = if self.started {
            let differ_at = common_prefix_len(stack, &self.previous);
            let order = match (stack.get(differ_at), self.previous.get(differ_at)) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Less,
                (Some(_), None) => std::cmp::Ordering::Greater,
                (Some(a), Some(b)) => a.cmp(b),
            };
            match order {
                std::cmp::Ordering::Less => {
                    return Err(TreeError::Unsorted {
                        previous: excerpt(&self.previous),
                        current: excerpt(stack),
                    })
                }
                std::cmp::Ordering::Equal => {
                    self.total = total;
                    self.lines_read += 1;
                    self.add_to_deepest(count, before);
                    return Ok(());
                }
                std::cmp::Ordering::Greater => Some(differ_at),
            }
        } else {
            None
        };
        self.total = total;
        self.lines_read += 1;
        let shared = differ_at.map_or(0, |at| shared_frames(at, stack, &self.open));
        // The frame that opens at depth `shared`: when it sorts before the previous line
        // (`a;b` after `a;b0`), it is a second run of a frame name already seen there.
        let start = self
            .open
            .get(shared.wrapping_sub(1))
            .map_or(0, |f| f.end_byte + 1);
        let first_end = frame_end(stack, start);
        let next_sorts_before = self.sorts_before_previous(first_end, differ_at);
        for depth in (shared..self.open.len()).rev() {
            self.close(depth == shared && next_sorts_before);
        }
        let mut start = start;
        loop {
            let end = frame_end(stack, start);
            let filler_end = self.safe_filler_end(stack, start, end, differ_at);
            let entry = self.entries.len();
            self.entries.push(Entry {
                depth: self.open.len() as u32,
                text_start: self.text.len(),
                frame_len: end - start,
                text_len: filler_end - start,
                count: 0,
                before: 0,
                exact: false,
                filler: false,
            });
            self.text.extend_from_slice(&stack[start..filler_end]);
            self.open.push(OpenFrame {
                entry,
                end_byte: end,
                total: 0,
            });
            if end == stack.len() {
                break;
            }
            start = end + 1;
        }
        self.add_to_deepest(count, before);
        self.previous.clear();
        self.previous.extend_from_slice(stack);
        self.started = true;
        Ok(())
    }

    /// Close every frame and return the lines: the kept frames' own lines and the fillers,
    /// in sorted order.
    pub fn finish(mut self) -> PrunedLines {
        while !self.open.is_empty() {
            self.close(false);
        }
        let mut out = Vec::with_capacity(self.text.len() * 4 + 64);
        let mut line: Vec<u8> = Vec::new();
        // End of the line's text after the kept frame at each depth.
        let mut ends: Vec<usize> = Vec::new();
        let mut lines = 0;
        for entry in &self.entries {
            let depth = entry.depth as usize;
            ends.truncate(depth);
            line.truncate(ends.last().copied().unwrap_or(0));
            if depth > 0 {
                line.push(b';');
            }
            let text = &self.text[entry.text_start..entry.text_start + entry.text_len];
            if entry.filler {
                line.extend_from_slice(text);
            } else {
                line.extend_from_slice(&text[..entry.frame_len]);
                ends.push(line.len());
                if !entry.exact {
                    continue;
                }
            }
            out.extend_from_slice(&line);
            out.push(b' ');
            if self.differential {
                let before = if entry.filler {
                    entry.count
                } else {
                    entry.before
                };
                out.extend_from_slice(before.to_string().as_bytes());
                out.push(b' ');
            }
            out.extend_from_slice(entry.count.to_string().as_bytes());
            out.push(b'\n');
            lines += 1;
        }
        // Every line is made of whole frames of `&str` input, cut at `;`.
        let text = String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        PrunedLines {
            text,
            lines,
            samples: self.total,
            lines_read: self.lines_read,
            dropped_frames: self.dropped,
        }
    }

    fn add_to_deepest(&mut self, count: u64, before: u64) {
        if let Some(frame) = self.open.last_mut() {
            frame.total += count;
            let entry = &mut self.entries[frame.entry];
            entry.count += count;
            entry.before = entry.before.saturating_add(before);
            entry.exact = true;
        }
    }

    /// True when the first `end` bytes of the stack being added, which differs from the
    /// previous stack at `differ_at`, sort before the previous stack: when the previous
    /// stack continues them with a byte below `;`, as `a;b0` continues `a;b`.
    fn sorts_before_previous(&self, end: usize, differ_at: Option<usize>) -> bool {
        differ_at.is_some_and(|at| end <= at && self.previous.len() > end)
    }

    /// The end of the shortest prefix of `stack`, ending at a frame end from `end` (the
    /// end of the frame starting at `start`) on, that inferno reads back unchanged and that
    /// sorts after the previous stack: what a filler standing for that frame writes. The
    /// whole stack always qualifies.
    fn safe_filler_end(
        &self,
        stack: &[u8],
        mut start: usize,
        mut end: usize,
        differ_at: Option<usize>,
    ) -> usize {
        loop {
            let safe = !ends_in_blank(&stack[..end])
                && !ends_in_count(&stack[start..end])
                && !self.sorts_before_previous(end, differ_at);
            if safe || end == stack.len() {
                return end;
            }
            start = end + 1;
            end = frame_end(stack, start);
        }
    }

    /// Close the deepest open frame. `next_sorts_before`: the frame opening next beside it
    /// is a second run of a frame name (see [`Self::sorts_before_previous`]), so this one
    /// must not be summed into a filler before it, which may stand for the first run.
    fn close(&mut self, next_sorts_before: bool) {
        let Some(frame) = self.open.pop() else {
            return;
        };
        if let Some(parent) = self.open.last_mut() {
            parent.total += frame.total;
        }
        if frame.total as f64 >= self.cutoff {
            return;
        }
        self.dropped += 1;
        let entry = self.entries[frame.entry];
        let joins_previous = !next_sorts_before
            && frame.entry > 0
            && self.entries.get(frame.entry - 1).is_some_and(|before| {
                before.filler
                    && before.depth == entry.depth
                    && ((before.count + frame.total) as f64) < self.cutoff
            });
        if joins_previous {
            self.entries.truncate(frame.entry);
            self.text.truncate(entry.text_start);
            if let Some(before) = self.entries.last_mut() {
                before.count += frame.total;
            }
        } else {
            self.entries.truncate(frame.entry + 1);
            self.text.truncate(entry.text_start + entry.text_len);
            let filler = &mut self.entries[frame.entry];
            filler.filler = true;
            filler.count = frame.total;
        }
    }
}

/// The cutoff that leaves a graph of `samples` drawn with inferno's `min_width_pct` (percent
/// of the width) unchanged: half its narrowest drawable frame, so that rounding can never
/// make us drop a frame inferno would draw (inferno still applies the exact width itself).
pub fn cutoff_for(samples: u64, min_width_pct: f64) -> f64 {
    samples as f64 * min_width_pct / 100.0 / 2.0
}

/// `lines` (`STACK COUNT`, sorted by stack as inferno's merge needs them) with the frames
/// narrower than [`cutoff_for`] left out: text inferno turns into the same SVG as `lines`
/// for `min_width_pct` and any width above it.
///
/// `None` when nothing would be left out, or when the input is not what this replay of
/// inferno's merge handles (see [`TreeError`]); the caller then renders `lines` as they are.
pub fn without_narrow_frames(lines: &[&str], min_width_pct: f64) -> Option<String> {
    let parsed: Vec<(&str, u64)> = lines
        .iter()
        .map(|line| {
            let (stack, count) = line.rsplit_once(' ')?;
            Some((stack, count.parse::<u64>().ok()?))
        })
        .collect::<Option<_>>()?;
    let total = parsed
        .iter()
        .filter(|(stack, _)| !stack.trim().is_empty())
        .try_fold(0u64, |sum, &(_, count)| sum.checked_add(count))?;
    let cutoff = cutoff_for(total, min_width_pct);
    // Every frame holds at least one sample, so nothing is narrower than a cutoff of 1.
    if cutoff <= 1.0 {
        return None;
    }
    let mut tree = PrunedTree::new(cutoff);
    for (stack, count) in parsed {
        tree.push(stack, count).ok()?;
    }
    let pruned = tree.finish();
    (pruned.dropped_frames > 0).then_some(pruned.text)
}

/// Where the frame starting at `start` ends: the next `;`, or the end of the stack.
fn frame_end(stack: &[u8], start: usize) -> usize {
    memchr(b';', &stack[start.min(stack.len())..]).map_or(stack.len(), |at| start + at)
}

/// How many leading frames the stack being added (`current`) shares with the previous one,
/// whose frames are `open`, given where they first differ: the frames inferno's merge
/// continues rather than starting anew.
fn shared_frames(differ_at: usize, current: &[u8], open: &[OpenFrame]) -> usize {
    // Frames that end before the first difference are equal in both stacks.
    let mut shared = open.partition_point(|frame| frame.end_byte < differ_at);
    // A frame ending exactly there is shared when `current`'s frame ends there too.
    if let Some(frame) = open.get(shared) {
        if frame.end_byte == differ_at && (differ_at == current.len() || current[differ_at] == b';')
        {
            shared += 1;
        }
    }
    shared
}

/// Length of the longest common prefix of `a` and `b`, 16 bytes at a time where they agree.
pub(crate) fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    let len = a.len().min(b.len());
    let mut at = 0;
    while at + 16 <= len && a[at..at + 16] == b[at..at + 16] {
        at += 16;
    }
    while at < len && a[at] == b[at] {
        at += 1;
    }
    at
}

/// The last frame of a stack (all of it when it has one frame).
fn last_frame(stack: &[u8]) -> &[u8] {
    &stack[memrchr(b';', stack).map_or(0, |at| at + 1)..]
}

/// True when inferno's trimming would eat the end of `text` (its last character is
/// whitespace as `str::trim` sees it).
fn ends_in_blank(text: &[u8]) -> bool {
    let Some(&last) = text.last() else {
        return false;
    };
    if last.is_ascii() {
        return last.is_ascii_whitespace() || last == 0x0b;
    }
    // The last character's first byte is at most 4 bytes back.
    let from = text.len().saturating_sub(4);
    let tail = &text[from..];
    let start = tail.iter().rposition(|&b| b & 0xc0 != 0x80).unwrap_or(0);
    std::str::from_utf8(&tail[start..])
        .ok()
        .and_then(|s| s.chars().next_back())
        .is_none_or(char::is_whitespace)
}

/// True when a line ending in frame `frame` ends in a blank and a token inferno reads as a
/// sample count (`12`, `1.5`), which it would take off the stack. Only the last frame can
/// hold such a token: one reaching back past a `;` is not a number.
fn ends_in_count(frame: &[u8]) -> bool {
    let Some(space) = memrchr(b' ', frame) else {
        return false;
    };
    let token = &frame[space + 1..];
    let (whole, fraction) = match memchr(b'.', token) {
        Some(dot) => (&token[..dot], &token[dot + 1..]),
        None => (token, &[][..]),
    };
    !whole.is_empty()
        && whole.iter().all(u8::is_ascii_digit)
        && fraction.iter().all(u8::is_ascii_digit)
}

/// Up to 200 bytes of a stack, for an error message.
fn excerpt(stack: &[u8]) -> String {
    String::from_utf8_lossy(&stack[..stack.len().min(200)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::{folded_text, merge_order_lines, min_width_percent, render_merge_ordered};
    use super::*;
    use crate::graphs::render::GraphOptions;
    use crate::ingest::synth::Generator;
    use crate::store::folded;

    /// Folded text of `samples` lines from the load generator, one line per sample.
    fn generated(samples: usize, seed: u64) -> Vec<u8> {
        let mut generator = Generator::new(seed);
        let mut text = Vec::new();
        for _ in 0..samples {
            generator.next_sample(&mut text);
            text.push(b'\n');
        }
        text
    }

    /// The SVG of `input` with and without leaving out narrow frames first, and whether
    /// there was anything to leave out.
    fn both_ways(input: &[u8], min_width: f64, reverse: bool) -> (Vec<u8>, Vec<u8>, bool) {
        let aggregated = folded::aggregate(input);
        let folded = folded_text(&aggregated.stacks, reverse);
        let lines = merge_order_lines(&folded.text, !folded.in_order);
        let opts = GraphOptions {
            title: "t".to_owned(),
            min_width,
            reverse,
            note: None,
            icicle: false,
        };
        let pct = min_width_percent(min_width).unwrap();
        let cut_any = without_narrow_frames(&lines, pct).is_some();
        let pruned = render_merge_ordered(&lines, &opts, pct, true).unwrap();
        let whole = render_merge_ordered(&lines, &opts, pct, false).unwrap();
        (pruned, whole, cut_any)
    }

    fn tree_lines(lines: &[(&str, u64)], cutoff: f64) -> String {
        let mut tree = PrunedTree::new(cutoff);
        for (stack, count) in lines {
            tree.push(stack, *count).unwrap();
        }
        tree.finish().text
    }

    #[test]
    fn leaving_out_narrow_frames_changes_no_byte_of_the_svg() {
        // Enough samples that frames of a few samples are narrower than 0.1 pixels.
        let input = generated(60_000, 7);
        for min_width in [0.1, 1.0, 10.0] {
            for reverse in [false, true] {
                let (pruned, whole, cut_any) = both_ways(&input, min_width, reverse);
                assert!(
                    cut_any,
                    "min_width {min_width}: nothing cut, nothing compared"
                );
                assert!(
                    pruned == whole,
                    "min_width {min_width}, reverse {reverse}: SVGs differ"
                );
            }
        }
    }

    #[test]
    fn function_focused_graphs_render_the_same_pruned() {
        let input = generated(40_000, 3);
        let aggregated = folded::aggregate(&input);
        // The generator's most common frames below the entry point.
        let mut frames: std::collections::HashMap<&[u8], u64> = Default::default();
        for (stack, count) in &aggregated.stacks {
            for frame in stack.split(|&b| b == b';').skip(1).take(3) {
                *frames.entry(frame).or_default() += count;
            }
        }
        let mut frames: Vec<(&[u8], u64)> = frames.into_iter().collect();
        frames.sort_by_key(|(frame, count)| (std::cmp::Reverse(*count), *frame));
        for (frame, _) in frames.iter().take(3) {
            let name = std::str::from_utf8(frame).unwrap();
            let focused = crate::graphs::render::stacks_with_frame(&aggregated.stacks, name);
            for reverse in [false, true] {
                let folded = folded_text(&focused, reverse);
                let lines = merge_order_lines(&folded.text, !folded.in_order);
                // 1 pixel: a focused graph has fewer samples than the whole window.
                let opts = GraphOptions {
                    title: name.to_owned(),
                    min_width: 1.0,
                    reverse,
                    note: None,
                    icicle: false,
                };
                let pct = min_width_percent(1.0).unwrap();
                assert!(
                    without_narrow_frames(&lines, pct).is_some(),
                    "{name}: nothing cut"
                );
                let pruned = render_merge_ordered(&lines, &opts, pct, true).unwrap();
                let whole = render_merge_ordered(&lines, &opts, pct, false).unwrap();
                assert!(pruned == whole, "{name}, reverse {reverse}: SVGs differ");
            }
        }
    }

    #[test]
    fn most_lines_of_a_realistic_input_are_cut() {
        let input = generated(60_000, 7);
        let aggregated = folded::aggregate(&input);
        let folded = folded_text(&aggregated.stacks, false);
        let lines = merge_order_lines(&folded.text, false);
        // 1 pixel: about what 0.1 pixels is for a day of samples rather than 60,000.
        let pruned = without_narrow_frames(&lines, min_width_percent(1.0).unwrap()).unwrap();
        let kept = pruned.lines().count();
        assert!(
            kept * 4 < lines.len(),
            "{kept} of {} lines kept",
            lines.len()
        );
        let total = |text: &str| -> u64 {
            text.lines()
                .map(|line| line.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
                .sum()
        };
        assert_eq!(total(&pruned), total(&folded.text));
        // Still sorted, as inferno requires.
        let stacks: Vec<&str> = pruned
            .lines()
            .map(|l| l.rsplit_once(' ').unwrap().0)
            .collect();
        assert!(stacks.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn awkward_stacks_render_the_same_either_way() {
        // `a;b0` sorts between `a;b` and `a;b;c`, so `b` opens twice under `a`; empty
        // frames; frames ending in blanks (a filler must not end in one); a frame that
        // ends in a number after a blank below a narrow frame; one wide stack so that
        // everything else is narrow.
        let input = b"a;b 3\na;b0 1\na;b;c 1\na;b;c;d 1\nx;;y 1\nx;;z 1\nq ;r 1\nq ;s 1\n\
                      q;r 1\nn;k 12;z 1\nn;k 12;y 1\np;b 1\np;b!;x 1\np;b;y 2\np;b;y;z 1\n\
                      wide;stack 40000\n";
        for min_width in [0.1, 1.0, 50.0] {
            for reverse in [false, true] {
                let (pruned, whole, cut_any) = both_ways(input, min_width, reverse);
                assert!(cut_any, "min_width {min_width}, reverse {reverse}");
                assert!(pruned == whole, "min_width {min_width}, reverse {reverse}");
            }
        }
    }

    #[test]
    fn second_runs_of_a_frame_stay_apart_from_the_first() {
        // Cutoff 2: `a;b` (3) is kept, `a;b0` (1) and the second run of `b` (1) are not.
        // The fillers must keep both runs of `b` apart and stay sorted.
        let lines = [("a;b", 3), ("a;b0", 1), ("a;b;c", 1), ("z", 10)];
        assert_eq!(tree_lines(&lines, 2.0), "a;b 3\na;b0 1\na;b;c 1\nz 10\n");
        // Everything under `a` narrow: `b0` is never summed into the filler of the first
        // run of `b` before it, or both runs of `b` would merge.
        let lines = [("a;b", 1), ("a;b0", 1), ("a;b;c", 1), ("a;d", 9), ("z", 30)];
        // (The second run joins the `b0` filler after it, which is named apart from `b`.)
        assert_eq!(tree_lines(&lines, 5.0), "a;b 1\na;b0 2\na;d 9\nz 30\n");
        let lines = [("a;b", 1), ("a;b0", 1), ("a;b;c", 1), ("a;e", 1), ("z", 30)];
        assert_eq!(tree_lines(&lines, 5.0), "a 4\nz 30\n");
    }

    #[test]
    fn adjacent_narrow_frames_are_summed_while_they_stay_narrow() {
        let lines = [
            ("m;a;x", 1),
            ("m;b;y", 1),
            ("m;c", 1),
            ("m;d;e", 1),
            ("m;w", 50),
            ("m;z", 1),
        ];
        // Cutoff 3: a and b sum to 2; with c it would be 3, no longer narrow, so c starts
        // a new filler, which d joins.
        assert_eq!(tree_lines(&lines, 3.0), "m;a 2\nm;c 2\nm;w 50\nm;z 1\n");
    }

    #[test]
    fn fillers_reach_down_to_a_frame_inferno_reads_back_unchanged() {
        // `q ` would be trimmed to `q`, `k 12` read as a count: fillers go one frame deeper.
        let lines = [
            ("q ;r", 1),
            ("q ;s", 1),
            ("t", 100),
            ("v", 10),
            ("v;k 12;z", 1),
            ("w", 100),
        ];
        assert_eq!(
            tree_lines(&lines, 5.0),
            "q ;r 2\nt 100\nv 10\nv;k 12;z 1\nw 100\n"
        );
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let mut tree = PrunedTree::new(2.0);
        tree.push("b;c", 1).unwrap();
        assert!(matches!(tree.push("a", 1), Err(TreeError::Unsorted { .. })));
        assert!(matches!(
            tree.push("c;x 5", 1),
            Err(TreeError::CountLikeEnd(_))
        ));
        let mut tree = PrunedTree::new(2.0);
        tree.push("a", u64::MAX).unwrap();
        assert_eq!(tree.push("b", 1), Err(TreeError::Overflow));
    }

    #[test]
    fn equal_and_blank_stacks_are_read_as_inferno_reads_them() {
        let lines = [("  ", 4), (" a;b", 1), ("a;b ", 2), ("a;c", 1), ("z", 100)];
        // Trimmed, `a;b` twice sums; the blank stack counts nothing.
        let mut tree = PrunedTree::new(3.0);
        for (stack, count) in lines {
            tree.push(stack, count).unwrap();
        }
        let pruned = tree.finish();
        assert_eq!(pruned.text, "a;b 3\na;c 1\nz 100\n");
        assert_eq!(pruned.samples, 104);
    }

    #[test]
    fn nothing_is_cut_when_every_frame_is_wide_enough() {
        let lines = ["a;b 5", "a;c 5"];
        assert_eq!(without_narrow_frames(&lines, 0.1), None);
        assert_eq!(without_narrow_frames(&lines, 0.0), None);
    }

    #[test]
    fn memory_is_the_frames_kept_not_the_input() {
        // 100,000 distinct stacks of one sample under one wide frame: nearly all narrow.
        let mut tree = PrunedTree::new(1_000.0);
        let mut most = 0;
        for i in 0..100_000 {
            let stack = format!("main;run;f{i:06};g;h");
            tree.push(&stack, 1).unwrap();
            most = most.max(tree.entries_held());
        }
        assert!(most < 300, "{most} entries held at once");
        let pruned = tree.finish();
        assert_eq!(pruned.samples, 100_000);
        assert!(pruned.lines <= 200, "{} lines", pruned.lines);
    }
}
