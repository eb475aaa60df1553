//! Range graphs: which windows of one period a range `from..=to` covers (bounded by
//! `on_demand.max_range_span`), and merging their stacks: from each window's range
//! summary ([`crate::graphs::range_summary`], a few MB) when it has a usable one, else from its whole
//! trace log. Summaries are sorted, so they are merged as sorted streams straight into a
//! pruned frame tree; logs go through a frame trie first. The result is handed back as the
//! few lines a graph draws from (subtrees too narrow to draw folded). Pure: callers read the
//! files and render the result.

use std::io::{self, BufRead, Write};

use bytes::Bytes;
use hashbrown::HashMap;

use crate::graphs::range_summary::{self, RangeSummary};
use crate::graphs::render::push_reversed_frames;
use crate::graphs::render::tree::{common_prefix_len, PrunedTree};
use crate::ingest::window::{Period, Window};
use crate::store::compress;
use crate::store::folded::{self, clean_line, for_each_line};

/// A range that cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// `from` or `to` is not a window name of the period.
    #[error("{which}={name:?} is not a {period} window name (format {format})")]
    NotAWindow {
        /// `from` or `to`.
        which: &'static str,
        /// The name given.
        name: String,
        /// The period.
        period: String,
        /// Its strftime format.
        format: String,
    },
    /// `from` is after `to`.
    #[error("from={from} is after to={to}: give the earlier window first")]
    Backwards {
        /// The start given.
        from: String,
        /// The end given.
        to: String,
    },
    /// More windows than allowed.
    #[error("the range covers more than {max} windows (on_demand.max_range_span): ask for a shorter range")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// More windows to read on their own (not from a roll-up) than allowed.
    #[error("the range reads {needed} windows on their own, more than on_demand.max_range_windows ({max}): ask for a shorter range (the roll-ups that make long ranges cheap cover blocks of 8 and 64 windows that are over, and are built by the retention pass)")]
    TooManyWindows {
        /// Windows the range would read on their own.
        needed: usize,
        /// The limit.
        max: usize,
    },
}

/// The windows from `from` to `to`, both included, oldest first.
pub fn windows_between(
    period: &Period,
    from: &str,
    to: &str,
    max_windows: usize,
) -> Result<Vec<Window>, RangeError> {
    let named = |which: &'static str, name: &str| {
        period
            .window_named(name)
            .ok_or_else(|| RangeError::NotAWindow {
                which,
                name: name.to_owned(),
                period: period.name().to_owned(),
                format: period.format().to_owned(),
            })
    };
    let first = named("from", from)?;
    let last = named("to", to)?;
    if first.start > last.start {
        return Err(RangeError::Backwards {
            from: from.to_owned(),
            to: to.to_owned(),
        });
    }
    let mut windows = vec![first];
    while let Some(current) = windows.last() {
        if current.start >= last.start {
            break;
        }
        if windows.len() >= max_windows {
            return Err(RangeError::TooLong { max: max_windows });
        }
        let next = period.window_at(current.end);
        windows.push(next);
    }
    Ok(windows)
}

/// One window's input to a range graph.
#[derive(Debug, Clone)]
pub enum RangeInput {
    /// Its range summary.
    Summary(RangeSummary),
    /// Its whole trace log, gzip'd or plain: windows without a usable summary (written
    /// before summaries existed, or changed since theirs was written).
    Log(Bytes),
}

/// The windows' stacks merged, ready to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// `STACK COUNT` lines, sorted bytewise (reversed stacks for a reversed graph), with
    /// the frames narrower than the cutoff folded into one line each.
    pub text: String,
    /// Samples in all windows.
    pub samples: u64,
}

impl Merged {
    /// The lines, without their `\n`.
    pub fn lines(&self) -> Vec<&str> {
        self.text.lines().collect()
    }
}

/// Merge the windows' stacks, forward or when `reversed` reversed (leaf frame first), and
/// return the merged lines with every subtree of fewer samples than `cutoff(samples)`
/// folded into one line named after its frame (neighbouring such subtrees summed while they
/// stay under the cutoff): what a graph drawing nothing narrower than twice that cutoff
/// needs. Summaries must hold the tree asked for ([`RangeSummary::has_tree`]).
///
/// Summaries are sorted, so they are merged as sorted streams ([`merge_sorted`]) into a
/// [`PrunedTree`], which replays inferno's merge: the lines are those of inferno's graph of
/// all the summaries' lines together. Logs (not sorted once reversed, and not necessarily
/// at all) are first merged by frame path in a trie, decompressed as they are read so only
/// the trie is held in memory, and join the sorted merge as one more sorted input. Input
/// the tree cannot replay (see [`crate::graphs::render::tree::TreeError`]) is merged by the trie
/// alone.
pub fn merge(
    inputs: &[RangeInput],
    reversed: bool,
    cutoff: impl FnOnce(u64) -> f64,
) -> io::Result<Merged> {
    let mut log_trie: Option<FrameTrie> = None;
    let mut summaries = Vec::new();
    for input in inputs {
        match input {
            RangeInput::Summary(summary) if summary.has_tree(reversed) => summaries.push(summary),
            RangeInput::Summary(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a range summary was decoded without the tree the graph needs",
                ))
            }
            RangeInput::Log(log) => {
                read_any_log(log_trie.get_or_insert_with(FrameTrie::new), log, reversed)?
            }
        }
    }
    let logs = log_trie.map(|trie| trie.lines(|_| 0.0));
    let samples = summaries
        .iter()
        .map(|summary| summary.samples)
        .chain(logs.as_ref().map(|logs| logs.samples))
        .fold(0u64, u64::saturating_add);
    let cutoff = cutoff(samples);
    let mut sources: Vec<SortedSource<'_>> = summaries
        .iter()
        .map(|summary| SortedSource::FrontCoded(Box::new(summary.entries(reversed))))
        .collect();
    if let Some(logs) = &logs {
        sources.push(SortedSource::Lines(logs.text.lines()));
    }
    let mut tree = PrunedTree::new(cutoff);
    if merge_sorted(sources, &mut tree).is_ok() {
        let pruned = tree.finish();
        return Ok(Merged {
            text: pruned.text,
            samples: pruned.samples,
        });
    }
    let mut trie = FrameTrie::new();
    for input in inputs {
        match input {
            RangeInput::Summary(summary) => {
                let mut path = Vec::new();
                for (shared, count, rest) in summary.entries(reversed) {
                    trie.add(&mut path, shared, rest, count);
                }
            }
            RangeInput::Log(log) => read_any_log(&mut trie, log, reversed)?,
        }
    }
    Ok(trie.lines(|_| cutoff))
}

/// Add a log, gzip'd or plain, to `trie`.
fn read_any_log(trie: &mut FrameTrie, log: &[u8], reversed: bool) -> io::Result<()> {
    read_log(trie, compress::maybe_gunzip_reader(log)?, reversed)
}

/// A sorted input of [`merge_sorted`].
enum SortedSource<'a> {
    /// Front-coded lines (a range summary's tree): (frames shared with the line before,
    /// count, the other frames).
    FrontCoded(Box<dyn Iterator<Item = (usize, u64, &'a [u8])> + 'a>),
    /// `STACK COUNT` lines.
    Lines(std::str::Lines<'a>),
}

/// Why a sorted merge stopped: input [`PrunedTree`] cannot take (unsorted, a stack ending
/// in a count, not UTF-8) or a line that is not `STACK COUNT`.
#[derive(Debug)]
struct NotMergeable;

/// One sorted input being merged: its current stack, and how many leading bytes that stack
/// shares with the stack merged last.
struct Cursor<'a> {
    source: SortedSource<'a>,
    stack: Vec<u8>,
    /// Where each frame of `stack` ends (for front-coded input).
    frame_ends: Vec<usize>,
    count: u64,
    shared_with_merged: usize,
    /// The input has no more stacks.
    ended: bool,
}

impl<'a> Cursor<'a> {
    fn new(source: SortedSource<'a>) -> Cursor<'a> {
        Cursor {
            source,
            stack: Vec::new(),
            frame_ends: Vec::new(),
            count: 0,
            shared_with_merged: 0,
            ended: false,
        }
    }

    /// Move to the next stack, whose leading bytes shared with the current one become
    /// `shared_with_merged` (the current stack is always the one merged last, or none);
    /// false at the end of the input.
    fn advance(&mut self) -> Result<bool, NotMergeable> {
        match &mut self.source {
            SortedSource::FrontCoded(entries) => {
                let Some((shared, count, rest)) = entries.next() else {
                    return Ok(false);
                };
                let shared = shared.min(self.frame_ends.len());
                let kept = if shared == 0 {
                    0
                } else {
                    self.frame_ends[shared - 1]
                };
                // The kept frames are shared; then `;` and `rest` against what followed them.
                self.shared_with_merged = if shared == 0 {
                    common_prefix_len(rest, &self.stack)
                } else if self.stack.get(kept) == Some(&b';') {
                    kept + 1 + common_prefix_len(rest, &self.stack[kept + 1..])
                } else {
                    kept
                };
                self.frame_ends.truncate(shared);
                self.stack.truncate(kept);
                if shared > 0 {
                    self.stack.push(b';');
                }
                let start = self.stack.len();
                self.stack.extend_from_slice(rest);
                let end = self.stack.len();
                self.frame_ends.extend(
                    memchr::memchr_iter(b';', rest)
                        .map(|at| start + at)
                        .chain(std::iter::once(end)),
                );
                self.count = count;
            }
            SortedSource::Lines(lines) => {
                let Some(line) = lines.next() else {
                    return Ok(false);
                };
                let (stack, count) = line.rsplit_once(' ').ok_or(NotMergeable)?;
                self.count = count.parse().map_err(|_| NotMergeable)?;
                self.shared_with_merged = common_prefix_len(stack.as_bytes(), &self.stack);
                self.stack.clear();
                self.stack.extend_from_slice(stack.as_bytes());
            }
        }
        Ok(true)
    }
}

/// Merge sorted inputs into `tree` in sorted order, equal stacks summed.
///
/// No stack is compared whole: every input's current stack sorts at or after the stack
/// merged last, so the one sharing the longest prefix with it sorts first (where another
/// leaves that prefix, it does so with a greater byte); only inputs tied on that length are
/// compared, from there on. After each step the lengths are updated the same way, and an
/// input moving on learns its own from its front coding.
fn merge_sorted(sources: Vec<SortedSource<'_>>, tree: &mut PrunedTree) -> Result<(), NotMergeable> {
    let mut cursors = Vec::with_capacity(sources.len());
    for source in sources {
        let mut cursor = Cursor::new(source);
        if cursor.advance()? {
            cursors.push(cursor);
        }
    }
    let mut equal: Vec<usize> = Vec::with_capacity(cursors.len());
    while let Some(longest) = cursors.iter().map(|c| c.shared_with_merged).max() {
        let mut first = usize::MAX;
        for (index, cursor) in cursors.iter().enumerate() {
            if cursor.shared_with_merged == longest
                && (first == usize::MAX
                    || cursor.stack[longest..] < cursors[first].stack[longest..])
            {
                first = index;
            }
        }
        let mut count = cursors[first].count;
        equal.clear();
        equal.push(first);
        for index in 0..cursors.len() {
            if index == first || cursors[index].shared_with_merged != longest {
                continue;
            }
            let (winner, other) = (&cursors[first].stack, &cursors[index].stack);
            let shared = longest + common_prefix_len(&other[longest..], &winner[longest..]);
            if shared == other.len() && shared == winner.len() {
                count = count.saturating_add(cursors[index].count);
                equal.push(index);
            } else {
                cursors[index].shared_with_merged = shared;
            }
        }
        let stack = std::str::from_utf8(&cursors[first].stack).map_err(|_| NotMergeable)?;
        tree.push(stack, count).map_err(|_| NotMergeable)?;
        let mut ended = false;
        for &index in &equal {
            if !cursors[index].advance()? {
                cursors[index].ended = true;
                ended = true;
            }
        }
        if ended {
            cursors.retain(|c| !c.ended);
        }
    }
    Ok(())
}

fn read_log(trie: &mut FrameTrie, log: impl BufRead, reversed: bool) -> io::Result<()> {
    let mut clean = Vec::new();
    let mut reversed_stack = Vec::new();
    let mut previous = Vec::new();
    let mut path = Vec::new();
    for_each_line(log, |raw| {
        let Some((stack, count)) = clean_line(raw, &mut clean) else {
            return;
        };
        let stack = if reversed {
            reversed_stack.clear();
            push_reversed_frames(&mut reversed_stack, stack);
            &reversed_stack[..]
        } else {
            stack
        };
        // Only the frames after those shared with the line before are looked up: logs are
        // sorted, so that is most of them.
        let shared = range_summary::shared_frames(&previous, stack);
        trie.add(
            &mut path,
            shared,
            range_summary::rest_after(stack, shared),
            count,
        );
        previous.clear();
        previous.extend_from_slice(stack);
    })
}

/// A frame tree merged by path (frames with equal names under equal parents are one).
struct FrameTrie {
    frame_ids: HashMap<Vec<u8>, u32, foldhash::fast::RandomState>,
    frame_texts: Vec<Vec<u8>>,
    /// (parent node, frame) -> node.
    children: HashMap<(u32, u32), u32, foldhash::fast::RandomState>,
    /// Node 0 is the root (no frame).
    nodes: Vec<TrieNode>,
}

#[derive(Debug, Clone, Copy)]
struct TrieNode {
    parent: u32,
    frame: u32,
    /// Samples of stacks ending here.
    own: u64,
}

impl FrameTrie {
    fn new() -> FrameTrie {
        FrameTrie {
            frame_ids: HashMap::default(),
            frame_texts: Vec::new(),
            children: HashMap::default(),
            nodes: vec![TrieNode {
                parent: 0,
                frame: u32::MAX,
                own: 0,
            }],
        }
    }

    /// Add a stack given as the first `shared` frames of the previous stack added with
    /// `path` (its nodes), then the frames of `rest`.
    fn add(&mut self, path: &mut Vec<u32>, shared: usize, rest: &[u8], count: u64) {
        path.truncate(shared);
        for frame in rest.split(|&b| b == b';') {
            let parent = path.last().copied().unwrap_or(0);
            let node = self.child(parent, frame);
            path.push(node);
        }
        if let Some(&last) = path.last() {
            let node = &mut self.nodes[last as usize];
            node.own = node.own.saturating_add(count);
        }
    }

    fn child(&mut self, parent: u32, frame: &[u8]) -> u32 {
        let frame = match self.frame_ids.get(frame) {
            Some(&id) => id,
            None => {
                let id = self.frame_texts.len() as u32;
                self.frame_texts.push(frame.to_vec());
                self.frame_ids.insert(frame.to_vec(), id);
                id
            }
        };
        let next = self.nodes.len() as u32;
        let node = *self.children.entry((parent, frame)).or_insert(next);
        if node == next {
            self.nodes.push(TrieNode {
                parent,
                frame,
                own: 0,
            });
        }
        node
    }

    fn lines(self, cutoff: impl FnOnce(u64) -> f64) -> Merged {
        // Totals bottom-up: a child always comes after its parent.
        let mut totals: Vec<u64> = self.nodes.iter().map(|n| n.own).collect();
        for index in (1..self.nodes.len()).rev() {
            let parent = self.nodes[index].parent as usize;
            totals[parent] = totals[parent].saturating_add(totals[index]);
        }
        let samples = totals[0];
        let cutoff = cutoff(samples);
        // Children of each node, grouped by parent (counting sort).
        let mut first_child = vec![0u32; self.nodes.len() + 1];
        for node in &self.nodes[1..] {
            first_child[node.parent as usize + 1] += 1;
        }
        for i in 1..first_child.len() {
            first_child[i] += first_child[i - 1];
        }
        let mut filled = first_child.clone();
        let mut child_list = vec![0u32; self.nodes.len().saturating_sub(1)];
        for (index, node) in self.nodes.iter().enumerate().skip(1) {
            let slot = &mut filled[node.parent as usize];
            child_list[*slot as usize] = index as u32;
            *slot += 1;
        }
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let mut path: Vec<u8> = Vec::new();
        // Depth-first over the kept nodes: (node, length of `path` before its frame).
        let mut stack: Vec<(u32, usize)> = vec![(0, 0)];
        while let Some((node, base)) = stack.pop() {
            path.truncate(base);
            if node != 0 {
                if base > 0 {
                    path.push(b';');
                }
                path.extend_from_slice(&self.frame_texts[self.nodes[node as usize].frame as usize]);
            }
            let own = self.nodes[node as usize].own;
            let mut folded_into_own = 0u64;
            let range =
                first_child[node as usize] as usize..first_child[node as usize + 1] as usize;
            let mut children: Vec<u32> = child_list[range].to_vec();
            children.sort_by(|a, b| {
                let text = |n: &u32| &self.frame_texts[self.nodes[*n as usize].frame as usize];
                text(a).cmp(text(b))
            });
            // Narrow children: one line per run of neighbours summing under the cutoff.
            let mut group: Option<(u32, u64)> = None;
            let flush = |group: &mut Option<(u32, u64)>, lines: &mut Vec<Vec<u8>>| {
                if let Some((first, samples)) = group.take() {
                    let frame = &self.frame_texts[self.nodes[first as usize].frame as usize];
                    lines.push(line(&path, frame, samples));
                }
            };
            let here = path.len();
            for &child in &children {
                let total = totals[child as usize];
                if total as f64 >= cutoff {
                    flush(&mut group, &mut lines);
                    stack.push((child, here));
                    continue;
                }
                let frame = &self.frame_texts[self.nodes[child as usize].frame as usize];
                if !safe_last_frame(frame) {
                    // A line ending in this frame would not read back as written: its
                    // samples are counted in the parent's own line instead.
                    folded_into_own += total;
                    continue;
                }
                match &mut group {
                    Some((_, samples)) if ((*samples + total) as f64) < cutoff => *samples += total,
                    _ => {
                        flush(&mut group, &mut lines);
                        group = Some((child, total));
                    }
                }
            }
            flush(&mut group, &mut lines);
            let own = own + folded_into_own;
            if node != 0 && own > 0 {
                let mut text = path.clone();
                // Writing into a Vec cannot fail.
                let _ = write!(text, " {own}");
                lines.push(text);
            }
        }
        lines.sort_unstable_by(|a, b| folded::stack_of(a).cmp(folded::stack_of(b)));
        let mut text = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            text.extend_from_slice(&line);
            text.push(b'\n');
        }
        // Lines are made of sanitized stacks, so this never takes the lossy path.
        let text = String::from_utf8(text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Merged { text, samples }
    }
}

/// `PATH;FRAME SAMPLES` (just `FRAME` at the root).
fn line(path: &[u8], frame: &[u8], samples: u64) -> Vec<u8> {
    let mut line = Vec::with_capacity(path.len() + frame.len() + 22);
    line.extend_from_slice(path);
    if !path.is_empty() {
        line.push(b';');
    }
    line.extend_from_slice(frame);
    // Writing into a Vec cannot fail.
    let _ = write!(line, " {samples}");
    line
}

/// The stack of a `STACK COUNT` line.
/// True when a line may end in `frame`: inferno would neither trim a blank off it nor read
/// a number after a blank in it as a count.
fn safe_last_frame(frame: &[u8]) -> bool {
    let blank_end = frame.last().is_some_and(|b| b.is_ascii_whitespace());
    let count_like = memchr::memrchr(b' ', frame).is_some_and(|space| {
        let token = &frame[space + 1..];
        !token.is_empty() && token.iter().all(|b| b.is_ascii_digit() || *b == b'.')
    });
    !blank_end && !count_like
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daily() -> Period {
        Period::new("daily", "%Y-%m-%d").unwrap()
    }

    fn names(windows: &[Window]) -> Vec<&str> {
        windows.iter().map(|w| w.name.as_str()).collect()
    }

    #[test]
    fn a_week_of_daily_windows_across_a_month_end() {
        let windows = windows_between(&daily(), "2026-11-28", "2026-12-04", 62).unwrap();
        assert_eq!(
            names(&windows),
            vec![
                "2026-11-28",
                "2026-11-29",
                "2026-11-30",
                "2026-12-01",
                "2026-12-02",
                "2026-12-03",
                "2026-12-04"
            ]
        );
        let one = windows_between(&daily(), "2026-11-28", "2026-11-28", 1).unwrap();
        assert_eq!(names(&one), vec!["2026-11-28"]);
    }

    #[test]
    fn bad_ranges_are_refused_with_reasons() {
        assert_eq!(
            windows_between(&daily(), "2026-11-01", "2026-11-08", 7),
            Err(RangeError::TooLong { max: 7 })
        );
        assert!(windows_between(&daily(), "2026-11-01", "2026-11-07", 7).is_ok());
        assert!(matches!(
            windows_between(&daily(), "2026-11-08", "2026-11-01", 62),
            Err(RangeError::Backwards { .. })
        ));
        assert!(matches!(
            windows_between(&daily(), "../etc", "2026-11-01", 62),
            Err(RangeError::NotAWindow { which: "from", .. })
        ));
        assert!(matches!(
            windows_between(&daily(), "2026-11-01", "2026-11-01_05", 62),
            Err(RangeError::NotAWindow { which: "to", .. })
        ));
        // A range of two years is refused without walking it.
        assert_eq!(
            windows_between(&daily(), "2000-01-01", "9999-12-31", 62),
            Err(RangeError::TooLong { max: 62 })
        );
    }

    fn log(text: &[u8]) -> RangeInput {
        RangeInput::Log(Bytes::from(text.to_vec()))
    }

    #[test]
    fn merging_sums_counts_of_equal_stacks() {
        let gzipped = RangeInput::Log(Bytes::from(compress::gzip(b"a;b 3\nd 4\n")));
        let inputs = [log(b"a;b 2\na;c 1\n"), gzipped];
        let merged = merge(&inputs, false, |_| 0.0).unwrap();
        assert_eq!(merged.text, "a;b 5\na;c 1\nd 4\n");
        assert_eq!(merged.samples, 10);
        let reversed = merge(&inputs, true, |_| 0.0).unwrap();
        assert_eq!(reversed.text, "b;a 5\nc;a 1\nd 4\n");
    }

    #[test]
    fn narrow_subtrees_fold_into_one_line_each() {
        let input = log(b"m;a;x 1\nm;b;y 1\nm;c 1\nm;d;e 1\nm;w 50\nm;w;v 1\nz 6\n");
        // Cutoff 3: a and b fold into one line named a (2), c and d into one named c.
        let merged = merge(&[input], false, |samples| {
            assert_eq!(samples, 61);
            3.0
        })
        .unwrap();
        assert_eq!(merged.text, "m;a 2\nm;c 2\nm;w 50\nm;w;v 1\nz 6\n");
    }

    /// A summary whose both trees are the stacks given (pruned at `cutoff`).
    fn summary(stacks: &[(&str, u64)], cutoff: f64) -> RangeSummary {
        use crate::graphs::render::tree::PrunedTree;
        let mut tree = PrunedTree::new(cutoff);
        for (stack, count) in stacks {
            tree.push(stack, *count).unwrap();
        }
        let lines = tree.finish();
        RangeSummary::decode(&RangeSummary::encode(1, cutoff, &lines, &lines)).unwrap()
    }

    #[test]
    fn summaries_merge_as_sorted_streams_with_equal_stacks_summed() {
        // Overlapping, disjoint, prefix-of-another and `a;b0`-between-`a;b`-and-`a;b;c`
        // stacks, spread over three summaries and a log.
        let inputs = [
            RangeInput::Summary(summary(&[("a;b", 1), ("a;b;c", 2), ("x", 1)], 0.0)),
            RangeInput::Summary(summary(&[("a;b0", 4), ("a;b;c", 3), ("a;b;d", 1)], 0.0)),
            RangeInput::Summary(summary(&[("a", 2), ("a;b;c;e", 5), ("z;y", 1)], 0.0)),
            log(b"a;b;c 10\nw 1\n"),
        ];
        let merged = merge(&inputs, false, |samples| {
            assert_eq!(samples, 31);
            0.0
        })
        .unwrap();
        assert_eq!(
            merged.text,
            "a 2\na;b 1\na;b0 4\na;b;c 15\na;b;c;e 5\na;b;d 1\nw 1\nx 1\nz;y 1\n"
        );
        assert_eq!(merged.samples, 31);
        // Every order of the inputs merges the same.
        let mut reordered = inputs.to_vec();
        reordered.reverse();
        assert_eq!(merge(&reordered, false, |_| 0.0).unwrap(), merged);
    }

    #[test]
    fn merged_summaries_fold_at_the_range_cutoff() {
        // Two windows of m;a (2 samples each): 4 in all, kept at a cutoff of 3 although
        // neither window alone reaches it; m;b and m;c (1 each) fold into one line.
        let inputs = [
            RangeInput::Summary(summary(&[("m;a", 2), ("m;b", 1), ("z", 6)], 0.0)),
            RangeInput::Summary(summary(&[("m;a;q", 2), ("m;c", 1)], 0.0)),
        ];
        let merged = merge(&inputs, false, |samples| {
            assert_eq!(samples, 12);
            3.0
        })
        .unwrap();
        assert_eq!(merged.text, "m;a 2\nm;a;q 2\nm;b 2\nz 6\n");
    }

    #[test]
    fn a_summary_without_the_tree_asked_for_is_an_error() {
        let lines = {
            let mut tree = crate::graphs::render::tree::PrunedTree::new(0.0);
            tree.push("a;b", 1).unwrap();
            tree.finish()
        };
        let bytes = RangeSummary::encode(1, 0.0, &lines, &lines);
        let forward_only = RangeSummary::decode_tree(&bytes, false).unwrap();
        let inputs = [RangeInput::Summary(forward_only)];
        assert_eq!(merge(&inputs, false, |_| 0.0).unwrap().text, "a;b 1\n");
        let error = merge(&inputs, true, |_| 0.0).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn input_the_pruned_tree_refuses_is_merged_by_frame_path() {
        // A frame ending in a blank and a number reads as a second count in inferno, so
        // the sorted merge refuses it; the trie merges everything instead.
        let inputs = [
            RangeInput::Summary(summary(&[("a;b", 1), ("c", 2)], 0.0)),
            log(b"a;x 5 3\nc 1\n"),
        ];
        let merged = merge(&inputs, false, |_| 0.0).unwrap();
        assert_eq!(merged.text, "a;b 1\na;x 5 3\nc 3\n");
        assert_eq!(merged.samples, 7);
    }

    /// Samples under every frame path (`a`, `a;b`, ...) of folded lines, merging frames by
    /// path as a trie does.
    fn path_counts(merged: &Merged) -> std::collections::HashMap<&[u8], u64> {
        let mut counts = std::collections::HashMap::new();
        for line in merged.text.lines() {
            let (stack, count) = line.rsplit_once(' ').unwrap();
            let (stack, count) = (stack.as_bytes(), count.parse::<u64>().unwrap());
            let ends = memchr::memchr_iter(b';', stack).chain(std::iter::once(stack.len()));
            for end in ends {
                *counts.entry(&stack[..end]).or_default() += count;
            }
        }
        counts
    }

    #[test]
    fn summaries_merge_within_the_sum_of_their_cutoffs() {
        use crate::graphs::render::tree::PrunedTree;
        // Three windows of generated traffic, summarized at a coarse cutoff so that much
        // is dropped; every frame path of the merged summaries is within the sum of the
        // cutoffs of its exact count, and the total is exact.
        let mut inputs = Vec::new();
        let mut logs = Vec::new();
        let mut cutoffs = 0.0;
        for seed in 0..3u64 {
            let mut generator = crate::ingest::synth::Generator::new(seed);
            let mut text = Vec::new();
            for _ in 0..20_000 {
                generator.next_sample(&mut text);
                text.push(b'\n');
            }
            let aggregated = crate::store::folded::aggregate(&text);
            let cutoff = aggregated.total() as f64 / 2_000.0;
            cutoffs += cutoff;
            let prune = |reversed: bool| {
                let lines: Vec<Vec<u8>> = aggregated
                    .stacks
                    .iter()
                    .map(|(stack, _)| {
                        let mut line = Vec::new();
                        if reversed {
                            push_reversed_frames(&mut line, stack);
                        } else {
                            line.extend_from_slice(stack);
                        }
                        line
                    })
                    .collect();
                let counts: Vec<u64> = aggregated.stacks.iter().map(|(_, c)| *c).collect();
                let mut order: Vec<usize> = (0..lines.len()).collect();
                order.sort_by(|&a, &b| lines[a].cmp(&lines[b]));
                let mut tree = PrunedTree::new(cutoff);
                for i in order {
                    tree.push(std::str::from_utf8(&lines[i]).unwrap(), counts[i])
                        .unwrap();
                }
                tree.finish()
            };
            let (forward, reversed) = (prune(false), prune(true));
            assert!(
                forward.lines * 3 < aggregated.stacks.len(),
                "little was pruned: {} lines of {} stacks, {} dropped",
                forward.lines,
                aggregated.stacks.len(),
                forward.dropped_frames
            );
            let bytes = RangeSummary::encode(1, cutoff, &forward, &reversed);
            inputs.push(RangeInput::Summary(RangeSummary::decode(&bytes).unwrap()));
            logs.push(log(&text));
        }
        for reversed in [false, true] {
            let exact = merge(&logs, reversed, |_| 0.0).unwrap();
            let summarized = merge(&inputs, reversed, |_| 0.0).unwrap();
            let exact_paths = path_counts(&exact);
            let summarized_paths = path_counts(&summarized);
            assert_eq!(exact.samples, summarized.samples);
            let mut checked = 0;
            for (path, &count) in &exact_paths {
                if (count as f64) < cutoffs {
                    continue;
                }
                let got = summarized_paths.get(path).copied().unwrap_or(0);
                assert!(
                    (got as f64 - count as f64).abs() < cutoffs,
                    "{}: {got} vs exact {count} (bound {cutoffs})",
                    String::from_utf8_lossy(path)
                );
                checked += 1;
            }
            assert!(checked > 50, "only {checked} frames compared");
        }
    }
}
