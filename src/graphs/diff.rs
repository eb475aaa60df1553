//! Differential flame graphs in bounded memory: this module owns turning two windows (the
//! earlier one "before", the later one "after") into the `STACK BEFORE AFTER` lines inferno
//! draws in its differential mode, without holding either window's stacks in memory.
//!
//! Meaning (that of `inferno::differential` followed by inferno's flame graph, the exact
//! reference [`crate::graphs::render::render_diff_svg`]): frames have the widths of "after"; each
//! stack's change is `after - before`, where in [`DiffMode::Share`] "before" is first scaled
//! by `after total / before total` (truncated per stack, as inferno does); a frame's colour
//! is the change of the stack ending exactly at it (grey when none does), red for growth and
//! blue for shrinkage, its saturation relative to the largest change of any stack drawn
//! (the *scale*). Stacks only in "before" have no width and are left out.
//!
//! Both windows arrive as sorted `STACK COUNT` lines and are merge-joined by stack, so no
//! table of every stack is ever built; the joined lines feed a differential
//! [`PrunedTree`] that keeps only the frames inferno could draw. Fillers in it carry no
//! change, and the scale is given to inferno by one last line, a repeat of the last stack
//! with no width whose change is the scale (inferno takes the scale from every line, and
//! a repeated stack opens no frame).
//!
//! Two sources, tried in this order by [`crate::graphs::on_demand`]:
//! - [`from_summaries`]: both windows' range summaries ([`crate::graphs::range_summary`], a few MB
//!   each). **Error bound:** the frames drawn are exactly those of the exact graph (same
//!   names, positions and widths: "after"'s summary keeps every frame wider than a
//!   twentieth of the narrowest drawn). A drawn frame's change differs from the exact one by
//!   at most `e = k x before's summary cutoff + 1` samples (k the share scaling, 1 for
//!   absolute counts; in share mode that is "after"'s cutoff + 1, a twentieth of the
//!   narrowest drawn frame), because only "before"'s side of it can be folded into a
//!   summary line. The scale is pinned within `e` of the exact one, and summaries are used
//!   only when it is at least [`MIN_SCALE_IN_ERRORS`] times `e`; otherwise the answer is
//!   `None` and the logs are read. Together: every colour channel of every drawn frame is
//!   within 8 (of 255) of the exact graph's, and the change in percent in a frame's title
//!   within `e` samples.
//!
//!   How the scale is pinned: a line of "after"'s summary with at least its cutoff of
//!   samples is a kept frame's own stack (never a filler), exact but for "before"'s side, so
//!   the largest change among them, K, is within `e` of some stack's exact change. Any
//!   other stack changes by at most "after"'s cutoff or its "before" count, and that is at
//!   most the count of the "before" line holding it, which lands in sort order on or right
//!   after the "after" filler the stack is folded into; K is the scale only when no such
//!   bound (nor a small line's change plus `e`) exceeds it.
//! - [`from_logs`]: both trace logs, decompressed as they are read and merge-joined line by
//!   line: the graph is byte for byte the exact one (tested against the reference). Memory:
//!   the frames kept (besides the gzip'd logs the caller read), plus an interned copy of a
//!   log's stacks ([`WindowStacks`]) only for a log that is not sorted (one imported from
//!   elsewhere).

use std::io::{self, BufRead};

use crate::graphs::range_summary::RangeSummary;
use crate::graphs::render::tree::{cutoff_for, PrunedTree, TreeError};
use crate::graphs::render::DiffMode;
use crate::graphs::window_stacks::WindowStacks;
use crate::store::compress;
use crate::store::folded::clean_line;

/// Summaries are used only when the colour scale is at least this many times the error `e`
/// of a frame's change (see the module documentation): colours then stay within 8 of 255.
pub const MIN_SCALE_IN_ERRORS: f64 = 60.0;

/// Why a differential graph's lines could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// A log could not be read.
    #[error("a trace log could not be read: {0}")]
    Io(#[from] io::Error),
    /// A stack ends in what inferno reads as a count (see [`TreeError::CountLikeEnd`]).
    #[error(transparent)]
    Tree(#[from] TreeError),
}

/// The lines of a differential graph, ready for [`crate::graphs::render::render_diff_lines_svgz`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLines {
    /// `STACK BEFORE AFTER` lines in inferno's merge order, the last one setting the scale.
    pub text: String,
    /// Samples of "after" (the graph's total width).
    pub samples: u64,
    /// The colour scale: the largest change of a stack drawn.
    pub scale: u64,
}

impl DiffLines {
    /// The lines, without their `\n`.
    pub fn lines(&self) -> Vec<&str> {
        self.text.lines().collect()
    }
}

/// One stack of both windows, joined: its "before" count (scaled) and "after" count.
#[derive(Debug, Clone, Copy)]
struct Joined<'a> {
    stack: &'a [u8],
    before: u64,
    after: u64,
}

/// Sorted `STACK COUNT` lines, one stack at a time.
trait SortedLines {
    /// The next stack and its count; equal neighbours summed. `Err` when out of order.
    fn next_line(&mut self) -> io::Result<Option<(&[u8], u64)>>;
}

/// How "before" counts are scaled to "after"'s total, as `inferno::differential` does.
#[derive(Debug, Clone, Copy)]
struct Scaling {
    factor: Option<f64>,
}

impl Scaling {
    fn new(mode: DiffMode, before_total: u64, after_total: u64) -> Scaling {
        let factor = (mode == DiffMode::Share && before_total != after_total)
            .then(|| after_total as f64 / before_total as f64);
        Scaling { factor }
    }

    fn factor(&self) -> f64 {
        self.factor.unwrap_or(1.0)
    }

    fn apply(&self, before: u64) -> u64 {
        match self.factor {
            // inferno: `(first as f64 * total2 as f64 / total1 as f64) as usize`.
            Some(_) if before == 0 => 0,
            Some(factor) => (before as f64 * factor) as u64,
            None => before,
        }
    }
}

fn change(line: &Joined<'_>) -> u64 {
    line.after.abs_diff(line.before)
}

/// The current line of the "before" source, owned: a source lends its line only until its
/// next call, and the join compares it with many "after" lines.
struct BeforeLine {
    stack: Vec<u8>,
    /// `None` once the source is exhausted.
    count: Option<u64>,
}

impl BeforeLine {
    fn first(source: &mut dyn SortedLines) -> io::Result<BeforeLine> {
        let mut line = BeforeLine {
            stack: Vec::new(),
            count: None,
        };
        line.advance(source)?;
        Ok(line)
    }

    fn advance(&mut self, source: &mut dyn SortedLines) -> io::Result<()> {
        self.count = source.next_line()?.map(|(stack, count)| {
            self.stack.clear();
            self.stack.extend_from_slice(stack);
            count
        });
        Ok(())
    }

    /// Emit the "before" lines sorting before `bound` (all that are left when there is
    /// none): stacks only "before" has. Stops on the first line not emitted.
    fn emit_until(
        &mut self,
        source: &mut dyn SortedLines,
        bound: Option<&[u8]>,
        scaling: Scaling,
        f: &mut impl FnMut(Joined<'_>) -> Result<(), DiffError>,
    ) -> Result<(), DiffError> {
        while let Some(count) = self.count {
            if bound.is_some_and(|bound| self.stack.as_slice() >= bound) {
                break;
            }
            f(Joined {
                stack: &self.stack,
                before: scaling.apply(count),
                after: 0,
            })?;
            self.advance(source)?;
        }
        Ok(())
    }
}

/// Merge-join two sorted line sources, calling `f` with every stack of either (after
/// scaling "before"), in order.
fn join(
    before: &mut dyn SortedLines,
    after: &mut dyn SortedLines,
    scaling: Scaling,
    mut f: impl FnMut(Joined<'_>) -> Result<(), DiffError>,
) -> Result<(), DiffError> {
    let mut current = BeforeLine::first(before)?;
    while let Some((after_stack, after_count)) = after.next_line()? {
        current.emit_until(before, Some(after_stack), scaling, &mut f)?;
        let matched = match current.count {
            Some(count) if current.stack.as_slice() == after_stack => Some(count),
            _ => None,
        };
        f(Joined {
            stack: after_stack,
            before: matched.map_or(0, |count| scaling.apply(count)),
            after: after_count,
        })?;
        if matched.is_some() {
            current.advance(before)?;
        }
    }
    current.emit_until(before, None, scaling, &mut f)
}

/// Feeds joined stacks with an "after" count into a differential tree at the drawing cutoff.
struct Builder {
    tree: PrunedTree,
}

impl Builder {
    fn new(after_samples: u64, min_width_pct: f64) -> Builder {
        Builder {
            tree: PrunedTree::new_differential(cutoff_for(after_samples, min_width_pct)),
        }
    }

    fn push(&mut self, line: &Joined<'_>) -> Result<(), DiffError> {
        if line.after == 0 {
            return Ok(());
        }
        // Stacks read through `clean_line` are sanitized to printable ASCII.
        let stack = String::from_utf8_lossy(line.stack);
        self.tree
            .push_differential(&stack, line.before, line.after)?;
        Ok(())
    }

    fn finish(self, scale: u64) -> DiffLines {
        let pruned = self.tree.finish();
        let mut text = pruned.text;
        let scale = scale.max(1);
        // The scale line: the last line's stack again, no width, a change of `scale`.
        let last_stack = text
            .lines()
            .next_back()
            .and_then(|line| line.rsplitn(3, ' ').nth(2))
            .map(str::to_owned);
        if let Some(stack) = last_stack {
            text.push_str(&format!("{stack} {scale} 0\n"));
        }
        DiffLines {
            text,
            samples: pruned.samples,
            scale,
        }
    }
}

/// The differential lines from both windows' range summaries, or `None` when they cannot
/// pin the colour scale closely enough (see the module documentation); the caller then
/// reads the logs with [`from_logs`]. Both summaries must be fine enough for
/// `min_width_pct` ([`RangeSummary::fine_enough_for`]).
pub fn from_summaries(
    before: &RangeSummary,
    after: &RangeSummary,
    mode: DiffMode,
    min_width_pct: f64,
) -> Result<Option<DiffLines>, DiffError> {
    let scaling = Scaling::new(mode, before.samples, after.samples);
    let error = scaling.factor() * before.cutoff + 1.0;
    // Largest change of a line that is surely a kept frame's own stack (never a filler).
    let mut kept_scale = 0u64;
    // Bound on the change of any other stack of "after".
    let mut other_bound = after.cutoff.max(error);
    let mut previous_after: Option<u64> = None;
    let mut builder = Builder::new(after.samples, min_width_pct);
    join(
        &mut SummaryLines::new(before),
        &mut SummaryLines::new(after),
        scaling,
        |line| {
            if line.after == 0 {
                // A stack folded into a filler of "after" (the line before it in "after"
                // is that filler) may be this one, with any change up to its "before".
                if previous_after.is_some_and(|count| (count as f64) < after.cutoff) {
                    other_bound = other_bound.max(line.before as f64);
                }
                return Ok(());
            }
            previous_after = Some(line.after);
            if line.after as f64 >= after.cutoff {
                kept_scale = kept_scale.max(change(&line));
            } else {
                // An own line or a filler: its stacks change by at most this much.
                let bound = (change(&line) as f64 + error).max(line.before as f64);
                other_bound = other_bound.max(bound);
            }
            builder.push(&line)
        },
    )?;
    let kept = kept_scale as f64;
    if other_bound > kept || kept < MIN_SCALE_IN_ERRORS * error {
        return Ok(None);
    }
    Ok(Some(builder.finish(kept_scale)))
}

/// The differential lines from both trace logs (gzip'd or plain), exact (see the module
/// documentation). `totals` are the logs' sample counts when known (from their range
/// summaries); an unknown one costs one more pass over that log.
pub fn from_logs(
    before: &[u8],
    after: &[u8],
    totals: (Option<u64>, Option<u64>),
    mode: DiffMode,
    min_width_pct: f64,
) -> Result<DiffLines, DiffError> {
    let before_total = match totals.0 {
        Some(total) => total,
        None => samples_of(before)?,
    };
    let after_total = match totals.1 {
        Some(total) => total,
        None => samples_of(after)?,
    };
    let streamed = join_logs(
        &mut LogLines::new(before)?,
        &mut LogLines::new(after)?,
        (before_total, after_total),
        mode,
        min_width_pct,
    );
    match streamed {
        Err(DiffError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => {
            // A log out of order: read both into interned tables, which sort them.
            let before = WindowStacks::read(before)?;
            let after = WindowStacks::read(after)?;
            join_logs(
                &mut TableLines::new(&before),
                &mut TableLines::new(&after),
                (before.samples, after.samples),
                mode,
                min_width_pct,
            )
        }
        other => other,
    }
}

fn join_logs(
    before: &mut dyn SortedLines,
    after: &mut dyn SortedLines,
    (before_total, after_total): (u64, u64),
    mode: DiffMode,
    min_width_pct: f64,
) -> Result<DiffLines, DiffError> {
    let scaling = Scaling::new(mode, before_total, after_total);
    let mut scale = 0u64;
    let mut builder = Builder::new(after_total, min_width_pct);
    join(before, after, scaling, |line| {
        if line.after > 0 {
            scale = scale.max(change(&line));
        }
        builder.push(&line)
    })?;
    Ok(builder.finish(scale))
}

/// Samples in a log, by one pass over it.
fn samples_of(log: &[u8]) -> io::Result<u64> {
    let mut lines = LogLines::new(log)?;
    lines.check_order = false;
    let mut total = 0u64;
    while let Some((_, count)) = lines.next_line()? {
        total = total.saturating_add(count);
    }
    Ok(total)
}

/// A trace log's lines, decompressed as they are read, cleaned as every reader of logs
/// cleans them ([`clean_line`]); malformed lines skipped.
struct LogLines<'a> {
    reader: Box<dyn BufRead + 'a>,
    raw: Vec<u8>,
    clean: Vec<u8>,
    /// The line handed out last.
    current: Vec<u8>,
    /// The next line, read ahead to sum equal neighbours.
    pending: Option<(Vec<u8>, u64)>,
    started: bool,
    check_order: bool,
}

impl<'a> LogLines<'a> {
    fn new(log: &'a [u8]) -> io::Result<LogLines<'a>> {
        Ok(LogLines {
            reader: compress::maybe_gunzip_reader(log)?,
            raw: Vec::new(),
            clean: Vec::new(),
            current: Vec::new(),
            pending: None,
            started: false,
            check_order: true,
        })
    }

    /// The next well-formed line, as an owned stack (the buffer of `pending` reused).
    fn read_one(&mut self, mut into: Vec<u8>) -> io::Result<Option<(Vec<u8>, u64)>> {
        loop {
            self.raw.clear();
            if self.reader.read_until(b'\n', &mut self.raw)? == 0 {
                return Ok(None);
            }
            let line = self.raw.strip_suffix(b"\n").unwrap_or(&self.raw);
            if let Some((stack, count)) = clean_line(line, &mut self.clean) {
                into.clear();
                into.extend_from_slice(stack);
                return Ok(Some((into, count)));
            }
        }
    }
}

impl SortedLines for LogLines<'_> {
    fn next_line(&mut self) -> io::Result<Option<(&[u8], u64)>> {
        let first = match self.pending.take() {
            Some(line) => Some(line),
            None if !self.started => self.read_one(Vec::new())?,
            None => None,
        };
        self.started = true;
        let Some((stack, mut count)) = first else {
            return Ok(None);
        };
        if self.check_order && !self.current.is_empty() && stack < self.current {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "trace log is not sorted by stack",
            ));
        }
        // Sum the equal lines that follow.
        let mut spare = std::mem::take(&mut self.current);
        loop {
            match self.read_one(spare)? {
                Some((next, more)) if next == stack => {
                    count = count.saturating_add(more);
                    spare = next;
                }
                other => {
                    self.pending = other;
                    break;
                }
            }
        }
        self.current = stack;
        Ok(Some((&self.current, count)))
    }
}

/// A log's interned stacks, in order.
struct TableLines<'a> {
    stacks: &'a WindowStacks,
    next: usize,
    text: Vec<u8>,
}

impl<'a> TableLines<'a> {
    fn new(stacks: &'a WindowStacks) -> TableLines<'a> {
        TableLines {
            stacks,
            next: 0,
            text: Vec::new(),
        }
    }
}

impl SortedLines for TableLines<'_> {
    fn next_line(&mut self) -> io::Result<Option<(&[u8], u64)>> {
        let Some(&(id, count)) = self.stacks.forward().get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        self.text.clear();
        self.stacks.write_text(id, false, &mut self.text);
        Ok(Some((&self.text, count)))
    }
}

/// A range summary's forward lines, rebuilt from their front coding one at a time.
struct SummaryLines<'a> {
    entries: Box<dyn Iterator<Item = (usize, u64, &'a [u8])> + 'a>,
    line: Vec<u8>,
    /// End of each frame of the current stack in `line`.
    ends: Vec<usize>,
}

impl<'a> SummaryLines<'a> {
    fn new(summary: &'a RangeSummary) -> SummaryLines<'a> {
        SummaryLines {
            entries: Box::new(summary.entries(false)),
            line: Vec::new(),
            ends: Vec::new(),
        }
    }
}

impl SortedLines for SummaryLines<'_> {
    fn next_line(&mut self) -> io::Result<Option<(&[u8], u64)>> {
        let Some((shared, count, rest)) = self.entries.next() else {
            return Ok(None);
        };
        self.ends.truncate(shared.min(self.ends.len()));
        self.line.truncate(self.ends.last().copied().unwrap_or(0));
        if !self.ends.is_empty() {
            self.line.push(b';');
        }
        let start = self.line.len();
        self.line.extend_from_slice(rest);
        self.ends.extend(
            memchr::memchr_iter(b';', rest)
                .map(|at| start + at)
                .chain(std::iter::once(self.line.len())),
        );
        Ok(Some((&self.line, count)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphs::range_summary::{self, RangeSummary};
    use crate::graphs::render::{
        min_width_percent, render_diff_lines_svg, render_diff_svg, GraphOptions,
    };
    use crate::ingest::synth::Generator;
    use crate::store::folded;

    /// The next `samples` lines of the load generator (one per sample, unsorted), plus
    /// `extra`. One generator gives windows over the same stacks, as days of one site.
    fn generated(generator: &mut Generator, samples: usize, extra: &str) -> Vec<u8> {
        let mut text = Vec::new();
        for _ in 0..samples {
            generator.next_sample(&mut text);
            text.push(b'\n');
        }
        text.extend_from_slice(extra.as_bytes());
        text
    }

    /// A trace log as arclamp writes one: unique stacks, sorted.
    fn log_of(text: &[u8]) -> Vec<u8> {
        let decoded = folded::decode(text).unwrap();
        let mut log = Vec::new();
        for (stack, count) in folded::aggregate(&decoded).stacks {
            log.extend_from_slice(stack);
            log.extend_from_slice(format!(" {count}\n").as_bytes());
        }
        log
    }

    /// The range summary the service would store beside `log` for `min_width_pct`.
    fn summary_of(log: &[u8], min_width_pct: f64) -> RangeSummary {
        let stacks = folded::aggregate(log).stacks;
        let samples: u64 = stacks.iter().map(|(_, count)| count).sum();
        let cutoff = range_summary::cutoff(samples, min_width_pct);
        let mut forward = PrunedTree::new(cutoff);
        for (stack, count) in stacks {
            forward
                .push(std::str::from_utf8(stack).unwrap(), count)
                .unwrap();
        }
        let forward = forward.finish();
        let bytes = RangeSummary::encode(log.len() as u64, cutoff, &forward, &forward);
        RangeSummary::decode(&bytes).unwrap()
    }

    fn options(min_width: f64) -> GraphOptions {
        GraphOptions {
            title: "diff".to_owned(),
            min_width,
            reverse: false,
            note: None,
            icicle: false,
        }
    }

    fn exact(before: &[u8], after: &[u8], mode: DiffMode, min_width: f64) -> Vec<u8> {
        let before = folded::decode(before).unwrap();
        let after = folded::decode(after).unwrap();
        render_diff_svg(&before, &after, mode, &options(min_width)).unwrap()
    }

    fn drawn(lines: &DiffLines, min_width: f64) -> Vec<u8> {
        render_diff_lines_svg(&lines.lines(), &options(min_width)).unwrap()
    }

    /// One drawn frame: its `<title>` text without the change, its `x`, `y` and `width`,
    /// and its fill.
    #[derive(Debug)]
    struct Frame {
        name: String,
        place: String,
        fill: (i32, i32, i32),
    }

    fn frames(svg: &[u8]) -> Vec<Frame> {
        let svg = std::str::from_utf8(svg).unwrap();
        let attr = |g: &str, name: &str| -> String {
            let start = g.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            g[start..].split('"').next().unwrap().to_owned()
        };
        svg.split("<g>")
            .skip(1)
            .filter(|g| g.contains("<rect"))
            .map(|g| {
                let title = g.split("<title>").nth(1).unwrap().split("</title>").next();
                let title = title.unwrap();
                let name = title.split("; ").next().unwrap().to_owned();
                let fill = attr(g, "fill");
                let rgb: Vec<i32> = fill
                    .trim_start_matches("rgb(")
                    .trim_end_matches(')')
                    .split(',')
                    .map(|p| p.trim().parse().unwrap())
                    .collect();
                Frame {
                    name,
                    place: format!("{} {} {}", attr(g, "x"), attr(g, "y"), attr(g, "width")),
                    fill: (rgb[0], rgb[1], rgb[2]),
                }
            })
            .collect()
    }

    #[test]
    fn logs_draw_byte_for_byte_the_exact_graph() {
        // A regression in "after" (a new hot stack) on top of two days of noise.
        let mut generator = Generator::new(1);
        let before = generated(&mut generator, 60_000, "");
        let after = generated(
            &mut generator,
            50_000,
            "index.php;Hot::path;Regression::new 3000\n",
        );
        let distinct = log_of(&after).split(|&b| b == b'\n').count();
        for (before, after) in [
            (log_of(&before), log_of(&after)),
            // gzip'd, as stored.
            (
                crate::store::compress::gzip(&log_of(&before)),
                crate::store::compress::gzip(&log_of(&after)),
            ),
            // Unsorted with repeated stacks (an imported log): read into tables instead.
            (before.clone(), after.clone()),
        ] {
            for mode in [DiffMode::Share, DiffMode::Absolute] {
                for min_width in [0.1, 1.0, 10.0] {
                    let pct = min_width_percent(min_width).unwrap();
                    let lines = from_logs(&before, &after, (None, None), mode, pct).unwrap();
                    let svg = drawn(&lines, min_width);
                    assert!(
                        svg == exact(&before, &after, mode, min_width),
                        "{mode:?}, min_width {min_width}: SVGs differ"
                    );
                    if min_width >= 1.0 {
                        let kept = lines.lines().len();
                        assert!(kept * 4 < distinct, "{kept} of {distinct} stacks kept");
                    }
                }
            }
        }
    }

    #[test]
    fn awkward_logs_draw_the_exact_graph_too() {
        // A stack only in "before", one only in "after", `b0` between `b` and `b;c`, equal
        // totals (no scaling), a stack that lost everything but one sample.
        let before = b"a;b 3\na;b0 1\na;b;c 5\ngone 7\nx;y 40\n";
        let after = b"a;b 1\na;b;c 9\nnew 2\nx;y 1\nz 42\n";
        for mode in [DiffMode::Share, DiffMode::Absolute] {
            for min_width in [0.0, 0.1, 50.0] {
                let pct = min_width_percent(min_width).unwrap();
                let lines = from_logs(before, after, (None, None), mode, pct).unwrap();
                assert_eq!(
                    String::from_utf8(drawn(&lines, min_width)).unwrap(),
                    String::from_utf8(exact(before, after, mode, min_width)).unwrap(),
                    "{mode:?}, min_width {min_width}"
                );
            }
        }
        // Totals given (from summaries) are the ones counted.
        let pct = min_width_percent(0.1).unwrap();
        assert_eq!(
            from_logs(before, after, (Some(56), Some(55)), DiffMode::Share, pct).unwrap(),
            from_logs(before, after, (None, None), DiffMode::Share, pct).unwrap()
        );
    }

    #[test]
    fn differential_trees_keep_own_changes_and_give_fillers_none() {
        let mut tree = PrunedTree::new_differential(3.0);
        for (stack, before, after) in [
            ("m;a", 7, 5),
            ("m;a;x", 0, 1),
            ("m;b", 9, 1),
            ("m;c", 0, 1),
            ("m;d", 2, 20),
        ] {
            tree.push_differential(stack, before, after).unwrap();
        }
        let pruned = tree.finish();
        // `x` under `a` and `b`, `c` are narrower than 3: fillers with no change.
        assert_eq!(pruned.text, "m;a 7 5\nm;a;x 1 1\nm;b 2 2\nm;d 2 20\n");
        assert_eq!(pruned.samples, 28);
    }

    #[test]
    fn summaries_draw_the_exact_frames_with_colours_within_the_bound() {
        let mut generator = Generator::new(1);
        let before = log_of(&generated(&mut generator, 200_000, ""));
        let regression = "index.php;Hot::path;Regression::new 9000\n";
        let after = log_of(&generated(&mut generator, 180_000, regression));
        for min_width in [1.0, 5.0] {
            let pct = min_width_percent(min_width).unwrap();
            let (before_summary, after_summary) =
                (summary_of(&before, pct), summary_of(&after, pct));
            assert!(
                after_summary.cutoff > 1.0,
                "nothing folded in the summaries"
            );
            for mode in [DiffMode::Share, DiffMode::Absolute] {
                let lines = from_summaries(&before_summary, &after_summary, mode, pct)
                    .unwrap()
                    .expect("a clear change pins the scale");
                let got = frames(&drawn(&lines, min_width));
                let want = frames(&exact(&before, &after, mode, min_width));
                assert_eq!(got.len(), want.len(), "{mode:?} {min_width}");
                assert!(want.len() > 50, "{} frames", want.len());
                let mut worst = 0;
                for (got, want) in got.iter().zip(&want) {
                    assert_eq!(got.name, want.name);
                    assert_eq!(got.place, want.place, "{}", want.name);
                    let off = (got.fill.0 - want.fill.0)
                        .abs()
                        .max((got.fill.1 - want.fill.1).abs())
                        .max((got.fill.2 - want.fill.2).abs());
                    worst = worst.max(off);
                }
                assert!(
                    worst <= 8,
                    "{mode:?} {min_width}: a colour channel off by {worst}"
                );
            }
        }
    }

    #[test]
    fn summaries_that_cannot_pin_the_scale_send_the_caller_to_the_logs() {
        let pct = min_width_percent(1.0).unwrap();
        let before = log_of(&generated(&mut Generator::new(1), 100_000, ""));
        // The same window: no change at all, so nothing to scale colours by.
        let same = summary_of(&before, pct);
        assert!(from_summaries(&same, &same, DiffMode::Share, pct)
            .unwrap()
            .is_none());
        // A big stack of "before" that nearly vanished: in "after" it is a filler's worth
        // of samples, so its change (which sets the exact scale) is unknown.
        // (A clear change elsewhere, so that the scale would be pinned otherwise.)
        let big = "index.php;Gone::mostly;Deep::frame 50000\n";
        let before = log_of(&generated(&mut Generator::new(1), 100_000, big));
        let small = "index.php;Gone::mostly;Deep::frame 1\nindex.php;Hot::new 20000\n";
        let after = log_of(&generated(&mut Generator::new(1), 100_000, small));
        let lines = from_summaries(
            &summary_of(&before, pct),
            &summary_of(&after, pct),
            DiffMode::Absolute,
            pct,
        )
        .unwrap();
        assert!(lines.is_none());
        // The logs know it: the scale is that stack's change.
        let lines = from_logs(&before, &after, (None, None), DiffMode::Absolute, pct).unwrap();
        assert_eq!(lines.scale, 49_999);
    }
}
