//! Leaving out, before inferno sees them, the frames too narrow to be drawn.
//!
//! inferno merges every line into frames (hashing every frame name on the way) and only then
//! drops the frames narrower than the minimum width. A daily graph has hundreds of thousands
//! of distinct stacks but only a few thousand frames wide enough to draw, so most of that
//! work is thrown away. This module replays inferno's merge cheaply (sorted lines, so a
//! frame is a run of adjacent lines sharing a prefix), finds the frames that cannot be drawn,
//! and cuts every line below its first such frame, summing lines that become equal. Every
//! frame inferno would draw keeps its exact position and count, so the SVG is byte for byte
//! the one inferno makes from the full input (tested), for a fraction of the work.

use std::fmt::Write;

use memchr::{memchr, memchr_iter, memrchr};

/// A frame of the line being compared, by the line it started on and where it ends in that
/// line's stack text.
struct OpenFrame {
    first_line: usize,
    end_byte: usize,
}

/// A frame too narrow to draw: lines `first_line..end_line` pass through it at `depth`
/// (0 is a stack's first frame).
struct NarrowFrame {
    first_line: usize,
    end_line: usize,
    depth: usize,
}

/// `lines` (`STACK COUNT`, sorted by stack as inferno's merge needs them) with every frame
/// narrower than half of `min_width_pct` percent of the total cut away and the lines that
/// become equal summed: text inferno turns into the same SVG as `lines`, for
/// `min_width_pct` and any width above it. Half, so that rounding can never make us cut a
/// frame inferno would draw; inferno still applies the exact width itself.
///
/// `None` when nothing can be cut, or when the input is not what this replay of inferno's
/// merge assumes (a line without a count, an empty stack, blanks at a stack's ends); the
/// caller then renders `lines` as they are.
pub(super) fn without_narrow_frames(lines: &[&str], min_width_pct: f64) -> Option<String> {
    let stacks = parse(lines)?;
    let total: u64 = stacks
        .iter()
        .try_fold(0u64, |sum, &(_, count)| sum.checked_add(count))?;
    let cutoff = total as f64 * min_width_pct / 100.0 / 2.0;
    // Every frame holds at least one sample, so nothing is narrower than a cutoff of 1.
    if cutoff <= 1.0 {
        return None;
    }
    let narrow = narrow_frames(&stacks, cutoff);
    if narrow.is_empty() {
        return None;
    }
    Some(cut_lines(&stacks, narrow))
}

/// The stack and count of every line, or `None` if one is not a plain `STACK COUNT` line
/// whose stack inferno reads exactly as written.
fn parse<'a>(lines: &[&'a str]) -> Option<Vec<(&'a [u8], u64)>> {
    lines
        .iter()
        .map(|line| {
            let bytes = line.as_bytes();
            let space = memrchr(b' ', bytes)?;
            let stack = &bytes[..space];
            let count = std::str::from_utf8(&bytes[space + 1..])
                .ok()?
                .parse::<u64>()
                .ok()?;
            // inferno trims blanks around the stack: a stack we would cut to end in a blank
            // would then no longer match its uncut siblings, so such input is not cut at all.
            let plain = !stack.is_empty()
                && !stack[0].is_ascii_whitespace()
                && !stack[stack.len() - 1].is_ascii_whitespace();
            plain.then_some((stack, count))
        })
        .collect()
}

/// Replays inferno's merge over sorted stacks and returns every frame whose lines hold fewer
/// than `cutoff` samples, sorted by first line and then by depth.
fn narrow_frames(stacks: &[(&[u8], u64)], cutoff: f64) -> Vec<NarrowFrame> {
    // samples_before[i] = samples in lines 0..i, so a frame's width is a subtraction.
    let mut samples_before = Vec::with_capacity(stacks.len() + 1);
    samples_before.push(0u64);
    for &(_, count) in stacks {
        let last = samples_before[samples_before.len() - 1];
        samples_before.push(last + count);
    }
    let mut narrow = Vec::new();
    let mut close = |frame: &OpenFrame, depth: usize, end_line: usize| {
        let samples = samples_before[end_line] - samples_before[frame.first_line];
        if (samples as f64) < cutoff {
            narrow.push(NarrowFrame {
                first_line: frame.first_line,
                end_line,
                depth,
            });
        }
    };

    let mut open: Vec<OpenFrame> = Vec::new();
    let mut previous: &[u8] = &[];
    for (line, &(stack, _)) in stacks.iter().enumerate() {
        let shared = shared_frames(previous, stack, &open);
        for depth in (shared..open.len()).rev() {
            close(&open[depth], depth, line);
        }
        open.truncate(shared);
        let mut start = open.last().map_or(0, |frame| frame.end_byte + 1);
        while start <= stack.len() {
            let end = memchr(b';', &stack[start..]).map_or(stack.len(), |at| start + at);
            open.push(OpenFrame {
                first_line: line,
                end_byte: end,
            });
            start = end + 1;
        }
        previous = stack;
    }
    for depth in (0..open.len()).rev() {
        close(&open[depth], depth, stacks.len());
    }
    narrow.sort_unstable_by_key(|frame| (frame.first_line, frame.depth));
    narrow
}

/// How many leading frames `current` shares with `previous`, whose frames are `open`: the
/// frames inferno's merge continues rather than starting anew.
fn shared_frames(previous: &[u8], current: &[u8], open: &[OpenFrame]) -> usize {
    let differ_at = previous
        .iter()
        .zip(current)
        .position(|(a, b)| a != b)
        .unwrap_or(previous.len().min(current.len()));
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

/// The lines with every stack cut above its shallowest narrow frame (keeping at least the
/// first frame, so the total stays the same) and equal neighbours summed.
fn cut_lines(stacks: &[(&[u8], u64)], narrow: Vec<NarrowFrame>) -> String {
    let mut text = String::with_capacity(stacks.len() * 64);
    let mut pending: Option<(&[u8], u64)> = None;
    let emit = |text: &mut String, (stack, count): (&[u8], u64)| {
        // Stacks are printable ASCII here (`parse` got them from `&str` lines and cuts
        // happen at `;`), so this never fails.
        text.push_str(std::str::from_utf8(stack).unwrap_or_default());
        // Writing into a String cannot fail.
        let _ = writeln!(text, " {count}");
    };

    let mut next_narrow = narrow.iter().peekable();
    // The shallowest narrow frame around the current line: (end line, depth).
    let mut cover: Option<(usize, usize)> = None;
    for (line, &(stack, count)) in stacks.iter().enumerate() {
        if cover.is_some_and(|(end_line, _)| line >= end_line) {
            cover = None;
        }
        while let Some(frame) = next_narrow.next_if(|frame| frame.first_line == line) {
            // Sorted by depth, so the first one starting here is the shallowest; frames
            // nest, so one starting inside the current cover is deeper than it.
            if cover.is_none() {
                cover = Some((frame.end_line, frame.depth));
            }
        }
        let mut cut = match cover {
            Some((_, depth)) => {
                let keep = depth.max(1);
                memchr_iter(b';', stack)
                    .nth(keep - 1)
                    .map_or(stack, |end| &stack[..end])
            }
            None => stack,
        };
        // inferno trims blanks at the end of a stack: `q ;r` cut to `q ` would become a
        // frame `q` apart from its uncut siblings' `q `, so such lines stay whole.
        if cut.last().is_some_and(u8::is_ascii_whitespace) {
            cut = stack;
        }
        // A cut stack sorts before a sibling such as `a;b0` that came between it and its
        // uncut neighbours (`;` sorts after `0`); inferno refuses unsorted lines, so such
        // rare lines stay whole.
        if pending.is_some_and(|(previous, _)| cut < previous) {
            cut = stack;
        }
        match &mut pending {
            Some((previous, sum)) if *previous == cut => *sum += count,
            _ => {
                if let Some(done) = pending.replace((cut, count)) {
                    emit(&mut text, done);
                }
            }
        }
    }
    if let Some(done) = pending {
        emit(&mut text, done);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::super::{folded_text, merge_order_lines, min_width_percent, render_merge_ordered};
    use super::*;
    use crate::folded;
    use crate::render::GraphOptions;
    use crate::synth::Generator;

    /// Folded text of `samples` lines from the load generator, one line per sample.
    fn generated(samples: usize) -> Vec<u8> {
        let mut generator = Generator::new(7);
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
        };
        let pct = min_width_percent(min_width).unwrap();
        let cut_any = without_narrow_frames(&lines, pct).is_some();
        let pruned = render_merge_ordered(&lines, &opts, pct, true).unwrap();
        let whole = render_merge_ordered(&lines, &opts, pct, false).unwrap();
        (pruned, whole, cut_any)
    }

    #[test]
    fn leaving_out_narrow_frames_changes_no_byte_of_the_svg() {
        // Enough samples that frames of a few samples are narrower than 0.1 pixels.
        let input = generated(60_000);
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
    fn most_lines_of_a_realistic_input_are_cut() {
        let input = generated(60_000);
        let aggregated = folded::aggregate(&input);
        let folded = folded_text(&aggregated.stacks, false);
        let lines = merge_order_lines(&folded.text, false);
        // 1 pixel: about what 0.1 pixels is for a day of samples rather than 60,000.
        let pruned = without_narrow_frames(&lines, min_width_percent(1.0).unwrap()).unwrap();
        let kept = pruned.lines().count();
        assert!(
            kept * 2 < lines.len(),
            "{kept} of {} lines kept",
            lines.len()
        );
        let total = |text: &str| -> u64 {
            text.lines()
                .map(|line| line.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
                .sum()
        };
        assert_eq!(total(&pruned), total(&folded.text));
    }

    #[test]
    fn awkward_stacks_render_the_same_either_way() {
        // `a;b0` sorts between `a;b` and `a;b;c`; empty frames; a frame ending in a blank
        // (reversed, a whole stack ends in one, and such input is not cut at all); one wide
        // stack so that everything else is narrow.
        let input = b"a;b 3\na;b0 1\na;b;c 1\na;b;c;d 1\nx;;y 1\nx;;z 1\nq ;r 1\nq ;s 1\n\
                      wide;stack 40000\n";
        for min_width in [0.1, 1.0, 50.0] {
            for reverse in [false, true] {
                let (pruned, whole, cut_any) = both_ways(input, min_width, reverse);
                assert_eq!(
                    cut_any, !reverse,
                    "min_width {min_width}, reverse {reverse}"
                );
                assert!(pruned == whole, "min_width {min_width}, reverse {reverse}");
            }
        }
        let aggregated = folded::aggregate(input);
        let folded = folded_text(&aggregated.stacks, false);
        let lines = merge_order_lines(&folded.text, false);
        assert_eq!(
            // Frames under 200 samples (half of 1% of 40,010) are cut.
            without_narrow_frames(&lines, 1.0).unwrap(),
            "a 6\nq ;r 1\nq ;s 1\nwide;stack 40000\nx 2\n"
        );
    }

    #[test]
    fn nothing_is_cut_when_every_frame_is_wide_enough() {
        let lines = ["a;b 5", "a;c 5"];
        assert_eq!(without_narrow_frames(&lines, 0.1), None);
        assert_eq!(without_narrow_frames(&lines, 0.0), None);
    }

    #[test]
    fn a_cut_keeps_the_first_frame_so_the_total_is_kept() {
        let lines = ["big 1000", "small;x;y 1"];
        let pruned = without_narrow_frames(&lines, 1.0).unwrap();
        assert_eq!(pruned, "big 1000\nsmall 1\n");
    }
}
