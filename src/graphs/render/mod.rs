//! Flame graphs: this module owns turning aggregated folded stacks into an SVG (or gzip'd
//! `.svgz`) flame graph with inferno. It decides how a graph looks (palette, deterministic
//! colours, stack direction, the minimum frame width in flamegraph.pl's pixels), builds the
//! one text buffer inferno reads, keeps inferno's panics and errors from escaping as anything
//! but a [`RenderError`], and selects the stacks of function-focused graphs. It knows nothing
//! about actors, storage or files: callers hand it stacks and get bytes back. It imports
//! only the trace-log format (`store::folded`, `store::compress`) and `ingest`; never the
//! storage trait, and nothing else of `graphs` (which builds on it).

pub mod budget;
pub mod tree;

use std::io::Write;
use std::panic::{self, AssertUnwindSafe};

use inferno::flamegraph::color::BasicPalette;
use inferno::flamegraph::{self, Options, Palette};
use memchr::memmem;

use crate::ingest::sample::sanitize_in_place;
use crate::store::compress;
use crate::store::folded::{stack_of, SortedLines};

/// Width in pixels of the frame area of flamegraph.pl's default 1200-pixel image (10 pixels
/// of padding on each side), which its `--minwidth` pixels are measured against.
const FRAMES_WIDTH_PX: f64 = 1200.0 - 2.0 * 10.0;

/// How a flame graph looks.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphOptions {
    /// Title drawn at the top of the graph.
    pub title: String,
    /// Frames narrower than this many pixels of a 1200-pixel-wide image are left out, as
    /// flamegraph.pl's `--minwidth`; 0 keeps every frame. Must be finite and not negative.
    pub min_width: f64,
    /// Reverse every stack before merging (leaf frames at the bottom, as flamegraph.pl's
    /// `--reverse`) and draw it with the blue palette, so it is not mistaken for a forward
    /// graph.
    pub reverse: bool,
    /// A line under the title saying what the graph was drawn from (a range's roll-ups),
    /// followed by the frames it merges into their parent.
    pub note: Option<String>,
    /// Draw the root at the top and callees below (an icicle graph, as Pyroscope and
    /// speedscope draw by default) instead of flamegraph.pl's root at the bottom.
    pub icicle: bool,
}

impl Default for GraphOptions {
    fn default() -> Self {
        GraphOptions {
            title: "Flame Graph".to_owned(),
            min_width: 0.1,
            reverse: false,
            note: None,
            icicle: false,
        }
    }
}

/// Why a flame graph could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Nothing to draw: no stack with a count of at least 1.
    #[error("no stacks to render: the input has no stack with a count of at least 1")]
    NoStacks,
    /// [`GraphOptions::min_width`] is negative, infinite or NaN.
    #[error("minimum frame width must be a finite number of pixels, 0 or more (got {0})")]
    InvalidMinWidth(f64),
    /// inferno rejected the input or failed while writing the SVG.
    #[error("inferno could not render the flame graph: {0}")]
    Inferno(#[source] std::io::Error),
    /// inferno panicked; the panic was caught so the caller can carry on with other graphs.
    #[error(
        "inferno panicked while rendering the flame graph ({0}); this is a bug: \
         please report it with the input that caused it"
    )]
    Panicked(String),
}

/// Render aggregated stacks (unique, sorted bytewise as [`crate::store::folded::aggregate`]
/// returns them) into SVG bytes.
///
/// Stacks with a count of 0 are ignored. Unsorted input is accepted (it is sorted first, at
/// a cost), and bytes outside printable ASCII are drawn as `?` so the SVG stays valid XML.
pub fn render_svg(stacks: &[(&[u8], u64)], opts: &GraphOptions) -> Result<Vec<u8>, RenderError> {
    let min_width_pct = min_width_percent(opts.min_width)?;
    let folded = folded_text(stacks, opts.reverse);
    if folded.text.is_empty() {
        return Err(RenderError::NoStacks);
    }
    let lines = merge_order_lines(&folded.text, !folded.in_order);
    render_merge_ordered(&lines, opts, min_width_pct, true)
}

/// Render lines already in inferno's merge order; `prune` first leaves out the frames too
/// narrow to draw (see [`tree`]), which changes nothing in the SVG but the time it takes.
fn render_merge_ordered(
    lines: &[&str],
    opts: &GraphOptions,
    min_width_pct: f64,
    prune: bool,
) -> Result<Vec<u8>, RenderError> {
    let pruned = if prune {
        tree::without_narrow_frames(lines, min_width_pct)
    } else {
        None
    };
    let pruned_lines: Vec<&str>;
    let lines = match &pruned {
        Some(text) => {
            pruned_lines = text.lines().collect();
            &pruned_lines
        }
        None => lines,
    };
    let mut options = options_within_budget(opts, min_width_pct, lines, false);
    // Roughly the size of a daily graph's SVG; growing from there is amortized anyway.
    let mut svg = Vec::with_capacity(1 << 20);
    catch_panic(|| flamegraph::from_lines(&mut options, lines.iter().copied(), &mut svg))?;
    Ok(svg)
}

/// Render `STACK COUNT` lines as they are drawn, gzip-compressed (`.svgz`): sorted by
/// stack, and for a reversed graph (`opts.reverse`, which picks the palette) already
/// reversed, leaf frame first. Frames too narrow to draw are left out first; lines from a
/// [`tree::PrunedTree`] at the same or a finer cutoff render the same graph.
pub fn render_ordered_lines_svgz(
    lines: &[&str],
    opts: &GraphOptions,
) -> Result<Vec<u8>, RenderError> {
    render_ordered_lines_svg(lines, opts).map(|svg| compress::gzip(&svg))
}

/// Same as [`render_ordered_lines_svgz`], not compressed.
pub fn render_ordered_lines_svg(
    lines: &[&str],
    opts: &GraphOptions,
) -> Result<Vec<u8>, RenderError> {
    let min_width_pct = min_width_percent(opts.min_width)?;
    if lines.is_empty() {
        return Err(RenderError::NoStacks);
    }
    render_merge_ordered(lines, opts, min_width_pct, true)
}

/// Same as [`render_svg`], gzip-compressed (`.svgz`).
pub fn render_svgz(stacks: &[(&[u8], u64)], opts: &GraphOptions) -> Result<Vec<u8>, RenderError> {
    render_svg(stacks, opts).map(|svg| compress::gzip(&svg))
}

/// Render lines as [`crate::store::folded::CountedStacks::lines`] returns them into SVG bytes: the
/// same graph as [`render_svg`] of the same stacks, without the copy of every stack that
/// [`render_svg`] makes, since these lines are already sanitized and sorted.
pub fn render_lines_svg(
    lines: &SortedLines<'_>,
    opts: &GraphOptions,
) -> Result<Vec<u8>, RenderError> {
    if opts.reverse {
        // Reversed stacks are new text in a new order: the copy is needed anyway.
        return render_svg(&lines.stacks(), opts);
    }
    let min_width_pct = min_width_percent(opts.min_width)?;
    if lines.is_empty() {
        return Err(RenderError::NoStacks);
    }
    render_merge_ordered(lines.as_slice(), opts, min_width_pct, true)
}

/// Same as [`render_lines_svg`], gzip-compressed (`.svgz`).
pub fn render_lines_svgz(
    lines: &SortedLines<'_>,
    opts: &GraphOptions,
) -> Result<Vec<u8>, RenderError> {
    render_lines_svg(lines, opts).map(|svg| compress::gzip(&svg))
}

/// How a differential graph compares its two windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DiffMode {
    /// Compare shares: the earlier window's counts are scaled to the later window's total,
    /// so a busier day does not turn everything red.
    #[default]
    Share,
    /// Compare raw sample counts.
    Absolute,
}

/// A differential flame graph (inferno's differential mode): drawn with the widths of
/// `after`, coloured red where a stack grew since `before` and blue where it shrank. Both
/// inputs are folded `STACK COUNT` text (decoded trace logs); stacks found only in `before`
/// have no width in `after` and are not drawn.
pub fn render_diff_svg(
    before: &[u8],
    after: &[u8],
    mode: DiffMode,
    opts: &GraphOptions,
) -> Result<Vec<u8>, RenderError> {
    let min_width_pct = min_width_percent(opts.min_width)?;
    let diff_options = inferno::differential::Options {
        normalize: mode == DiffMode::Share,
        strip_hex: false,
    };
    let mut lines = Vec::with_capacity(after.len() + before.len() / 2);
    catch_panic(|| inferno::differential::from_readers(diff_options, before, after, &mut lines))?;
    // Inputs went through `folded::decode` (sanitized); the lossy path never runs then.
    let text = String::from_utf8_lossy(&lines);
    let mut sorted: Vec<&str> = text.lines().filter(|l| !l.ends_with(" 0")).collect();
    if sorted.is_empty() {
        return Err(RenderError::NoStacks);
    }
    sorted.sort_unstable();
    let mut options = options_within_budget(opts, min_width_pct, &sorted, true);
    let mut svg = Vec::with_capacity(1 << 20);
    catch_panic(|| flamegraph::from_lines(&mut options, sorted.iter().copied(), &mut svg))?;
    Ok(svg)
}

/// Render inferno's differential `STACK BEFORE AFTER` lines, already in merge order (as
/// [`crate::graphs::diff`] makes them), into SVG bytes: the bounded counterpart of
/// [`render_diff_svg`], which stays the exact reference.
pub fn render_diff_lines_svg(lines: &[&str], opts: &GraphOptions) -> Result<Vec<u8>, RenderError> {
    let min_width_pct = min_width_percent(opts.min_width)?;
    if lines.is_empty() {
        return Err(RenderError::NoStacks);
    }
    let mut options = options_within_budget(opts, min_width_pct, lines, true);
    let mut svg = Vec::with_capacity(1 << 20);
    catch_panic(|| flamegraph::from_lines(&mut options, lines.iter().copied(), &mut svg))?;
    Ok(svg)
}

/// Same as [`render_diff_lines_svg`], gzip-compressed (`.svgz`).
pub fn render_diff_lines_svgz(lines: &[&str], opts: &GraphOptions) -> Result<Vec<u8>, RenderError> {
    render_diff_lines_svg(lines, opts).map(|svg| compress::gzip(&svg))
}

/// Keep only the lines whose stack contains a frame exactly equal to `function`, as
/// [`stacks_with_frame`] does for stacks.
pub fn retain_lines_with_frame(lines: &mut SortedLines<'_>, function: &str) {
    let needle = function.as_bytes();
    if needle.is_empty() || needle.contains(&b';') {
        lines.retain_stacks(|_| false);
        return;
    }
    let finder = memmem::Finder::new(needle);
    lines.retain_stacks(|stack| has_whole_frame(&finder, stack));
}

/// The stacks that contain a frame exactly equal to `function` (whole frame match between
/// `;`), for function-focused graphs. Order is kept, so sorted input gives sorted output.
///
/// An empty `function`, or one containing `;`, can never be a whole frame and matches
/// nothing.
pub fn stacks_with_frame<'a>(stacks: &[(&'a [u8], u64)], function: &str) -> Vec<(&'a [u8], u64)> {
    let needle = function.as_bytes();
    if needle.is_empty() || needle.contains(&b';') {
        return Vec::new();
    }
    let finder = memmem::Finder::new(needle);
    stacks
        .iter()
        .filter(|(stack, _)| has_whole_frame(&finder, stack))
        .copied()
        .collect()
}

/// True when one of the matches of `finder` in `stack` is bounded by `;` or the ends.
/// Non-overlapping search cannot hide a whole-frame match: an earlier match overlapping it
/// would have to contain the `;` before it, and the needle has none.
fn has_whole_frame(finder: &memmem::Finder<'_>, stack: &[u8]) -> bool {
    let len = finder.needle().len();
    finder.find_iter(stack).any(|start| {
        let end = start + len;
        let starts_frame = start == 0 || stack[start - 1] == b';';
        let ends_frame = end == stack.len() || stack[end] == b';';
        starts_frame && ends_frame
    })
}

/// flamegraph.pl measures `--minwidth` in pixels, inferno in percent of the total width.
pub fn min_width_percent(pixels: f64) -> Result<f64, RenderError> {
    if !pixels.is_finite() || pixels < 0.0 {
        return Err(RenderError::InvalidMinWidth(pixels));
    }
    Ok(pixels * 100.0 / FRAMES_WIDTH_PX)
}

/// inferno's options for drawing `lines` (in merge order; differential `STACK BEFORE AFTER`
/// lines when `differential`): the minimum width is raised, and the graph says so under
/// its title, when drawing them as asked would exceed the graph budget ([`budget`]).
fn options_within_budget(
    opts: &GraphOptions,
    min_width_pct: f64,
    lines: &[&str],
    differential: bool,
) -> Options<'static> {
    let mut options = inferno_options(opts, min_width_pct);
    if let Some(cut) = budget::fit(lines, min_width_pct, differential) {
        options.min_width = cut.min_width_pct();
        options.subtitle = Some(match &opts.note {
            Some(note) => format!("{note}. {}", cut.subtitle()),
            None => cut.subtitle(),
        });
    } else if let Some(note) = &opts.note {
        let total = budget::total_samples(lines);
        // inferno leaves out frames narrower than min_width percent of the total.
        let min_samples = (min_width_pct / 100.0 * total as f64).ceil() as u64;
        options.subtitle = Some(format!(
            "{note}. Frames under {min_samples} samples (of {total}) are merged into their parent"
        ));
    }
    options
}

fn inferno_options(opts: &GraphOptions, min_width_pct: f64) -> Options<'static> {
    let mut options = Options::default();
    options.title.clone_from(&opts.title);
    if opts.icicle {
        options.direction = inferno::flamegraph::Direction::Inverted;
    }
    options.min_width = min_width_pct;
    options.colors = if opts.reverse {
        Palette::Basic(BasicPalette::Blue)
    } else {
        Palette::Basic(BasicPalette::Hot)
    };
    // Colour from a hash of the frame name, so a frame looks the same in every graph.
    options.hash = true;
    // We hand inferno lines already in merge order (see `merge_order_lines`) and reverse
    // stacks ourselves, which saves inferno a copy and a sort of every line.
    options.no_sort = true;
    options.reverse_stack_order = false;
    options
}

/// The `STACK COUNT` lines inferno reads, and whether they are already in merge order.
struct FoldedText {
    text: String,
    in_order: bool,
}

/// The `STACK COUNT` lines inferno reads, one per stack with a non-zero count, frames
/// reversed when `reverse`, each stack sanitized to printable ASCII. This is the only copy
/// of the stacks made while rendering.
fn folded_text(stacks: &[(&[u8], u64)], reverse: bool) -> FoldedText {
    let bytes: usize = stacks.iter().map(|(stack, _)| stack.len() + 22).sum();
    let mut text = Vec::with_capacity(bytes);
    // Reversed stacks always need sorting; forward ones only if the caller broke the
    // sorted-input contract, checked here on the copies while they are still in cache.
    let mut in_order = !reverse;
    let mut previous = 0..0;
    for &(stack, count) in stacks {
        if count == 0 {
            continue;
        }
        let start = text.len();
        if reverse {
            push_reversed_frames(&mut text, stack);
        } else {
            text.extend_from_slice(stack);
        }
        // A newline inside a stack would split it into two lines, and control bytes would
        // make the SVG invalid XML.
        sanitize_in_place(&mut text[start..]);
        let current = start..text.len();
        in_order = in_order && text[previous.clone()] <= text[current.clone()];
        previous = current;
        // Writing into a Vec cannot fail.
        let _ = writeln!(text, " {count}");
    }
    // Sanitized text is ASCII, so this never takes the lossy path.
    let text = String::from_utf8(text)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    FoldedText { text, in_order }
}

/// Append `stack` with its frames in reverse order (leaf first) to `text`.
pub fn push_reversed_frames(text: &mut Vec<u8>, stack: &[u8]) {
    for (i, frame) in stack.rsplit(|&b| b == b';').enumerate() {
        if i > 0 {
            text.push(b';');
        }
        text.extend_from_slice(frame);
    }
}

/// The lines of `text` in the order inferno's merge needs: sorted by stack, so that stacks
/// sharing a prefix are adjacent.
fn merge_order_lines(text: &str, sort: bool) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    if sort {
        lines.sort_unstable_by(|a, b| stack_of(a.as_bytes()).cmp(stack_of(b.as_bytes())));
    }
    lines
}

/// Run `render`, turning an inferno error or a panic into a [`RenderError`].
fn catch_panic(render: impl FnOnce() -> std::io::Result<()>) -> Result<(), RenderError> {
    // Nothing that `render` touches is used again after a panic: the caller only sees the
    // error, so a half-written buffer cannot be observed.
    match panic::catch_unwind(AssertUnwindSafe(render)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(RenderError::Inferno(error)),
        Err(payload) => Err(RenderError::Panicked(panic_message(payload.as_ref()))),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "no panic message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use quick_xml::events::Event;
    use quick_xml::Reader;

    use super::*;
    use crate::store::folded;

    const INPUT: &str = "\
index.php;MediaWiki::run;Parser::parse 2
index.php;MediaWiki::run;OutputPage::output 3
index.php;MediaWiki::run;Parser::parse;Parser::braceSubstitution 1
index.php;<script>alert(1)</script> 1
";

    /// One drawn frame: the name and sample count from its `<title>`, the top edge and fill
    /// of its `<rect>`.
    #[derive(Debug, Clone)]
    struct DrawnFrame {
        name: String,
        samples: u64,
        y: u32,
        fill: String,
    }

    fn options() -> GraphOptions {
        GraphOptions {
            title: "Test graph".to_owned(),
            min_width: 0.0,
            reverse: false,
            note: None,
            icicle: false,
        }
    }

    /// Runs `f` on the aggregated, sorted stacks of folded `input`.
    fn with_stacks<T>(input: &str, f: impl FnOnce(&[(&[u8], u64)]) -> T) -> T {
        let text = folded::decode(input.as_bytes()).unwrap();
        let folded = folded::aggregate(&text);
        f(&folded.stacks)
    }

    fn render(input: &str, opts: &GraphOptions) -> Vec<u8> {
        with_stacks(input, |stacks| render_svg(stacks, opts).unwrap())
    }

    /// Walks every XML event (failing on any error) and returns the drawn frames.
    fn drawn_frames(svg: &[u8]) -> Vec<DrawnFrame> {
        let mut reader = Reader::from_reader(svg);
        let mut frames = Vec::new();
        let mut in_title = false;
        let mut title = String::new();
        loop {
            match reader.read_event().expect("SVG is well-formed XML") {
                Event::Eof => break,
                Event::Start(e) if e.name().as_ref() == b"title" => in_title = true,
                Event::End(e) if e.name().as_ref() == b"title" => in_title = false,
                Event::Text(t) if in_title => title = t.unescape().unwrap().into_owned(),
                Event::Empty(e) if e.name().as_ref() == b"rect" && !title.is_empty() => {
                    let attr = |name: &str| {
                        let value = e.try_get_attribute(name).unwrap().unwrap();
                        value.unescape_value().unwrap().into_owned()
                    };
                    let (name, samples) = parse_frame_title(&title);
                    frames.push(DrawnFrame {
                        name,
                        samples,
                        y: attr("y").parse().unwrap(),
                        fill: attr("fill"),
                    });
                    title.clear();
                }
                _ => {}
            }
        }
        frames
    }

    /// `Parser::parse (1,234 samples, 42.86%)` -> (`Parser::parse`, 1234).
    fn parse_frame_title(title: &str) -> (String, u64) {
        let (name, stats) = title.rsplit_once(" (").unwrap();
        let samples = stats.split_once(' ').unwrap().0.replace(',', "");
        (name.to_owned(), samples.parse().unwrap())
    }

    /// Samples per frame name summed over the drawn frames; "all" is the root.
    fn drawn_counts(frames: &[DrawnFrame]) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for frame in frames {
            *counts.entry(frame.name.clone()).or_default() += frame.samples;
        }
        counts
    }

    /// What the graph must show per frame name: every stack counts once for each time a
    /// frame appears in it, and the root `all` counts everything.
    fn expected_counts(input: &str) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for line in input.lines() {
            let (stack, count) = line.rsplit_once(' ').unwrap();
            let count: u64 = count.parse().unwrap();
            *counts.entry("all".to_owned()).or_default() += count;
            for frame in stack.split(';') {
                *counts.entry(frame.to_owned()).or_default() += count;
            }
        }
        counts
    }

    /// Names of the frames drawn right on top of the root `all` frame.
    fn root_level_names(frames: &[DrawnFrame]) -> BTreeSet<String> {
        let root = frames.iter().find(|f| f.name == "all").unwrap();
        frames
            .iter()
            .filter(|f| f.y + 16 == root.y)
            .map(|f| f.name.clone())
            .collect()
    }

    fn rgb(fill: &str) -> (u8, u8, u8) {
        let inner = fill
            .strip_prefix("rgb(")
            .unwrap()
            .strip_suffix(')')
            .unwrap();
        let mut parts = inner.split(',').map(|p| p.parse::<u8>().unwrap());
        (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        )
    }

    fn fill_of<'f>(frames: &'f [DrawnFrame], name: &str) -> &'f str {
        &frames.iter().find(|f| f.name == name).unwrap().fill
    }

    #[test]
    fn diff_graphs_are_red_where_a_share_grew_and_blue_where_it_shrank() {
        let before = b"a;grew 10\na;shrank 10\na;gone 5\n";
        let after = b"a;grew 30\na;shrank 10\na;<script>alert(1)</script> 5\n";
        let svg = render_diff_svg(before, after, DiffMode::Share, &options()).unwrap();
        let frames = drawn_frames(&svg);
        // Widths are the later window's counts.
        let counts = drawn_counts(&frames);
        assert_eq!(counts["grew"], 30);
        assert_eq!(counts["shrank"], 10);
        assert_eq!(counts["all"], 45);
        assert_eq!(counts["<script>alert(1)</script>"], 5);
        assert!(!counts.contains_key("gone"));
        let text = String::from_utf8(svg.clone()).unwrap();
        assert!(
            !text.contains("<script>alert(1)"),
            "frame names must be escaped"
        );
        // Share: before is scaled by 45/25, so grew 18 -> 30 (red), shrank 18 -> 10 (blue).
        let (r, g, b) = rgb(fill_of(&frames, "grew"));
        assert!(r == 255 && g < 255 && b < 255, "grew is red: {r},{g},{b}");
        let (r, g, b) = rgb(fill_of(&frames, "shrank"));
        assert!(
            b == 255 && r < 255 && g < 255,
            "shrank is blue: {r},{g},{b}"
        );
        // Absolute: shrank 10 -> 10 is unchanged (neutral), new frames are red.
        let svg = render_diff_svg(before, after, DiffMode::Absolute, &options()).unwrap();
        let frames = drawn_frames(&svg);
        assert_eq!(
            rgb(fill_of(&frames, "shrank")),
            (250, 250, 250),
            "unchanged is neutral"
        );
        let (r, g, b) = rgb(fill_of(&frames, "<script>alert(1)</script>"));
        assert!(r == 255 && g < 255 && b < 255, "new is red: {r},{g},{b}");
        assert!(matches!(
            render_diff_svg(before, b"", DiffMode::Share, &options()),
            Err(RenderError::NoStacks)
        ));
    }

    #[test]
    fn svg_is_well_formed_xml_with_the_title() {
        let svg = render(INPUT, &options());
        assert!(!drawn_frames(&svg).is_empty());
        let text = String::from_utf8(svg).unwrap();
        assert!(text.contains(">Test graph<"), "title missing");
    }

    #[test]
    fn frame_titles_show_the_summed_samples_of_the_input() {
        let frames = drawn_frames(&render(INPUT, &options()));
        assert_eq!(drawn_counts(&frames), expected_counts(INPUT));
        let svg = String::from_utf8(render(INPUT, &options())).unwrap();
        assert!(svg.contains("<title>Parser::parse (3 samples, 42.86%)</title>"));
    }

    #[test]
    fn one_line_per_sample_input_counts_like_aggregated_input() {
        let per_sample: String = INPUT
            .lines()
            .flat_map(|line| {
                let (stack, count) = line.rsplit_once(' ').unwrap();
                let count: usize = count.parse().unwrap();
                std::iter::repeat_n(format!("{stack} 1\n"), count)
            })
            .collect();
        let frames = drawn_frames(&render(&per_sample, &options()));
        assert_eq!(drawn_counts(&frames), expected_counts(INPUT));
    }

    #[test]
    fn untrusted_frame_names_are_escaped() {
        let svg = render(INPUT, &options());
        let text = String::from_utf8(svg.clone()).unwrap();
        assert!(
            !text.contains("<script>alert"),
            "frame name reached the SVG unescaped"
        );
        assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        let names = drawn_counts(&drawn_frames(&svg));
        assert_eq!(names.get("<script>alert(1)</script>"), Some(&1));
    }

    #[test]
    fn control_bytes_in_stacks_cannot_break_the_xml() {
        let stacks: [(&[u8], u64); 2] = [(b"a;b\x01c", 1), (b"a;d\ne", 1)];
        let frames = drawn_frames(&render_svg(&stacks, &options()).unwrap());
        let counts = drawn_counts(&frames);
        assert_eq!(counts.get("b?c"), Some(&1));
        assert_eq!(counts.get("d?e"), Some(&1));
        assert_eq!(counts.get("all"), Some(&2));
    }

    #[test]
    fn forward_graph_has_the_entry_point_at_the_root_level() {
        let frames = drawn_frames(&render(INPUT, &options()));
        assert_eq!(
            root_level_names(&frames),
            BTreeSet::from(["index.php".into()])
        );
    }

    #[test]
    fn reversed_graph_puts_the_leaf_frames_at_the_root_level() {
        let opts = GraphOptions {
            reverse: true,
            ..options()
        };
        let frames = drawn_frames(&render(INPUT, &opts));
        let leaves: BTreeSet<String> = [
            "Parser::parse",
            "OutputPage::output",
            "Parser::braceSubstitution",
            "<script>alert(1)</script>",
        ]
        .map(String::from)
        .into();
        assert_eq!(root_level_names(&frames), leaves);
        // Reversing moves frames around but must not change what they add up to.
        assert_eq!(drawn_counts(&frames), expected_counts(INPUT));
    }

    #[test]
    fn reversed_graphs_are_blue_and_forward_graphs_hot() {
        let forward = drawn_frames(&render(INPUT, &options()));
        assert!(forward.iter().all(|f| {
            let (r, _, b) = rgb(&f.fill);
            r >= 205 && b <= 55
        }));
        let opts = GraphOptions {
            reverse: true,
            ..options()
        };
        let reversed = drawn_frames(&render(INPUT, &opts));
        assert!(reversed.iter().all(|f| {
            let (r, g, b) = rgb(&f.fill);
            r == g && b >= 205
        }));
    }

    #[test]
    fn a_frame_gets_the_same_colour_in_every_graph() {
        let other = "api.php;ApiMain::execute;Parser::parse 5\n";
        let a = drawn_frames(&render(INPUT, &options()));
        let b = drawn_frames(&render(other, &options()));
        assert_eq!(fill_of(&a, "Parser::parse"), fill_of(&b, "Parser::parse"));
        assert_eq!(render(INPUT, &options()), render(INPUT, &options()));
    }

    #[test]
    fn min_width_is_in_pixels_of_a_1200_pixel_image() {
        // 1180 samples over the 1180-pixel frame area: one sample is one pixel wide.
        let input = "main;big 1179\nmain;tiny 1\n";
        let names = |min_width| {
            let opts = GraphOptions {
                min_width,
                ..options()
            };
            drawn_counts(&drawn_frames(&render(input, &opts)))
        };
        assert!(names(0.9).contains_key("tiny"));
        assert!(!names(1.1).contains_key("tiny"));
        assert!(names(1.1).contains_key("big"));
    }

    #[test]
    fn invalid_min_width_is_an_error() {
        for min_width in [-1.0, f64::NAN, f64::INFINITY] {
            let opts = GraphOptions {
                min_width,
                ..options()
            };
            let result = with_stacks(INPUT, |stacks| render_svg(stacks, &opts));
            assert!(matches!(result, Err(RenderError::InvalidMinWidth(_))));
        }
    }

    #[test]
    fn unsorted_input_renders_like_sorted_input() {
        with_stacks(INPUT, |sorted| {
            let mut unsorted = sorted.to_vec();
            unsorted.reverse();
            assert_eq!(
                render_svg(&unsorted, &options()).unwrap(),
                render_svg(sorted, &options()).unwrap()
            );
        });
    }

    #[test]
    fn svgz_is_gzip_of_the_same_svg() {
        with_stacks(INPUT, |stacks| {
            let svgz = render_svgz(stacks, &options()).unwrap();
            assert!(compress::is_gzip(&svgz));
            let svg = compress::maybe_gunzip(&svgz).unwrap();
            assert_eq!(*svg, render_svg(stacks, &options()).unwrap());
        });
    }

    #[test]
    fn empty_input_is_no_stacks() {
        assert!(matches!(
            render_svg(&[], &options()),
            Err(RenderError::NoStacks)
        ));
        assert!(matches!(
            render_svgz(&[(b"a;b", 0)], &options()),
            Err(RenderError::NoStacks)
        ));
    }

    #[test]
    fn stacks_with_frame_matches_whole_frames_only() {
        let stacks: [(&[u8], u64); 6] = [
            (b"Foo::bar", 1),
            (b"a;Foo::bar", 2),
            (b"a;Foo::bar;c", 3),
            (b"a;Foo::barBaz", 4),
            (b"a;My\\Foo::bar", 5),
            (b"a;Foo::barBaz;Foo::bar", 6),
        ];
        let counts: Vec<u64> = stacks_with_frame(&stacks, "Foo::bar")
            .iter()
            .map(|(_, count)| *count)
            .collect();
        assert_eq!(counts, [1, 2, 3, 6]);
        assert!(stacks_with_frame(&stacks, "").is_empty());
        assert!(stacks_with_frame(&stacks, "a;Foo::bar").is_empty());
    }

    #[test]
    fn counted_lines_render_like_aggregated_stacks() {
        let mut counter = folded::StackCounter::new();
        counter.read_lines(INPUT.as_bytes()).unwrap();
        let counted = counter.finish();
        with_stacks(INPUT, |stacks| {
            for reverse in [false, true] {
                let opts = GraphOptions {
                    reverse,
                    ..options()
                };
                assert_eq!(
                    render_lines_svg(&counted.lines(), &opts).unwrap(),
                    render_svg(stacks, &opts).unwrap()
                );
            }
            let mut focused = counted.lines();
            retain_lines_with_frame(&mut focused, "Parser::parse");
            assert_eq!(
                render_lines_svg(&focused, &options()).unwrap(),
                render_svg(&stacks_with_frame(stacks, "Parser::parse"), &options()).unwrap()
            );
            retain_lines_with_frame(&mut focused, "a;b");
            assert!(matches!(
                render_lines_svgz(&focused, &options()),
                Err(RenderError::NoStacks)
            ));
        });
    }

    #[test]
    fn a_panic_while_rendering_becomes_an_error() {
        let result = catch_panic(|| panic!("frame table corrupt"));
        match result {
            Err(RenderError::Panicked(message)) => assert_eq!(message, "frame table corrupt"),
            other => panic!("expected Panicked, got {other:?}"),
        }
    }
}
