//! How much a flame graph may draw: at most [`MAX_FRAMES`] frames and about
//! [`MAX_SVG_BYTES`] of SVG, whatever the number of samples, so that every graph opens in a
//! browser in a second or two. flamegraph.pl's 0.1-pixel minimum width keeps large windows
//! readable, but on a window of a few thousand samples every sample is wider than that and
//! a deep, varied profile draws hundreds of thousands of frames (a 49 MB SVG that took 50 s
//! to load). When the lines to draw exceed the budget, [`fit`] raises the minimum width to
//! the narrowest frame that still fits: the widest frames are kept, and narrower ones are
//! left inside their parent's width (the parent still spans their samples), as
//! flamegraph.pl's own minimum width does.
//!
//! This replays inferno's merge over the lines (adjacent lines sharing leading frames share
//! those frames) to learn every frame's width and name length; it allocates per open frame
//! and per frame at least as wide as the current minimum, never per input byte.

/// Most frames a graph draws (inferno draws one `<rect>` per frame, plus the root).
pub const MAX_FRAMES: usize = 29_000;

/// About how many bytes of SVG a graph may take: the estimate below, kept under 5 MB.
pub const MAX_SVG_BYTES: usize = 4_600_000;

/// Bytes inferno writes for a frame besides its name: the `<g>`, `<title>` with sample
/// count and share, `<rect>` with its coordinates and colour, and `<text>` (measured on
/// inferno 0.12: 190 to 230 bytes).
const FRAME_OVERHEAD_BYTES: usize = 230;

/// Bytes of the SVG that do not depend on the frames (the embedded script and styles).
const FIXED_BYTES: usize = 40_000;

/// What [`fit`] decided for a graph over its budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cut {
    /// The narrowest frame drawn, in samples: frames of fewer samples are left out.
    pub min_samples: u64,
    /// All samples of the graph.
    pub total: u64,
    /// Frames that would be drawn at the requested minimum width.
    pub frames_before: usize,
    /// Frames drawn at [`Cut::min_samples`].
    pub frames_after: usize,
}

impl Cut {
    /// inferno's `min_width` (percent of the total) that draws exactly the frames of at
    /// least [`Cut::min_samples`] samples.
    pub fn min_width_pct(&self) -> f64 {
        // Widths are whole samples: half a sample below the cut keeps every frame at it.
        (self.min_samples as f64 - 0.5) * 100.0 / self.total as f64
    }

    /// The line a graph carries under its title to say what it leaves out.
    pub fn subtitle(&self) -> String {
        format!(
            "Frames under {} samples (of {}) are merged into their parent to keep the graph fast: {} of {} frames drawn",
            self.min_samples, self.total, self.frames_after, self.frames_before
        )
    }
}

/// All samples of `lines` (`STACK COUNT`, or `STACK BEFORE AFTER` counting AFTER, the
/// width drawn); lines without a count count nothing.
pub fn total_samples(lines: &[&str]) -> u64 {
    lines
        .iter()
        .filter_map(|line| line.trim().rsplit_once(' ')?.1.parse::<u64>().ok())
        .fold(0u64, u64::saturating_add)
}

/// One frame's width in samples and the bytes its name takes.
#[derive(Debug, Clone, Copy)]
struct Frame {
    samples: u64,
    name_len: usize,
}

/// Decide whether `lines` (in inferno's merge order; `STACK COUNT`, or `STACK BEFORE
/// AFTER` when `differential`, whose width is AFTER) fit the budget when drawn with
/// inferno's `min_width_pct`; if not, the raised cut that does. `None` when they fit, or
/// when a line has no count (inferno then reports the input itself).
pub fn fit(lines: &[&str], min_width_pct: f64, differential: bool) -> Option<Cut> {
    let mut parsed = Vec::with_capacity(lines.len());
    let mut total: u64 = 0;
    for line in lines {
        let line = line.trim();
        let (stack, count) = line.rsplit_once(' ')?;
        let count: u64 = count.parse().ok()?;
        let stack = if differential {
            stack.rsplit_once(' ')?.0
        } else {
            stack
        };
        total = total.checked_add(count)?;
        parsed.push((stack, count));
    }
    if total == 0 {
        return None;
    }
    // inferno keeps a frame unless it is narrower than this many samples.
    let drawn_from = min_width_pct * total as f64 / 100.0;
    let mut frames = frame_widths(&parsed, drawn_from);
    if frames.len() <= MAX_FRAMES && estimated_bytes(&frames) <= MAX_SVG_BYTES {
        return None;
    }
    frames.sort_unstable_by_key(|f| std::cmp::Reverse(f.samples));
    let mut bytes = FIXED_BYTES;
    let mut kept = 0;
    for frame in &frames {
        bytes += FRAME_OVERHEAD_BYTES + frame.name_len;
        if kept + 1 > MAX_FRAMES || bytes > MAX_SVG_BYTES {
            break;
        }
        kept += 1;
    }
    // Frames as wide as the first one left out go too, so the cut is one width.
    let min_samples = frames[kept].samples + 1;
    let frames_after = frames.partition_point(|f| f.samples >= min_samples);
    Some(Cut {
        min_samples,
        total,
        frames_before: frames.len(),
        frames_after,
    })
}

fn estimated_bytes(frames: &[Frame]) -> usize {
    FIXED_BYTES
        + frames
            .iter()
            .map(|f| FRAME_OVERHEAD_BYTES + f.name_len)
            .sum::<usize>()
}

/// The frames inferno's merge makes of sorted `(stack, count)` lines that are at least
/// `drawn_from` samples wide.
fn frame_widths(lines: &[(&str, u64)], drawn_from: f64) -> Vec<Frame> {
    let mut frames = Vec::new();
    // The open frames: name length and samples so far, outermost first.
    let mut open: Vec<Frame> = Vec::new();
    let mut previous: Vec<&str> = Vec::new();
    let close = |frame: Frame, frames: &mut Vec<Frame>| {
        if frame.samples as f64 >= drawn_from {
            frames.push(frame);
        }
    };
    for &(stack, count) in lines {
        let current: Vec<&str> = stack.split(';').filter(|f| !f.is_empty()).collect();
        let shared = previous
            .iter()
            .zip(&current)
            .take_while(|(a, b)| a == b)
            .count();
        while open.len() > shared {
            if let Some(frame) = open.pop() {
                close(frame, &mut frames);
            }
        }
        for name in &current[shared..] {
            open.push(Frame {
                samples: 0,
                name_len: name.len(),
            });
        }
        for frame in &mut open {
            frame.samples += count;
        }
        previous = current;
    }
    while let Some(frame) = open.pop() {
        close(frame, &mut frames);
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `width` sibling leaves of one sample each under `index.php;MediaWiki::run`.
    fn wide(width: usize) -> Vec<String> {
        let mut lines: Vec<String> = (0..width)
            .map(|i| format!("index.php;MediaWiki::run;Leaf{i:06} 1"))
            .collect();
        lines.sort();
        lines
    }

    #[test]
    fn a_graph_within_the_budget_is_drawn_as_asked() {
        let lines = wide(1_000);
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(fit(&lines, 0.0, false), None);
    }

    #[test]
    fn too_many_frames_raise_the_cut_to_the_widest_that_fit() {
        // 40,000 one-sample leaves and 100 leaves of 5 samples: only the 5-sample ones
        // (and their two ancestors) fit.
        let mut lines = wide(40_000);
        lines.extend((0..100).map(|i| format!("index.php;MediaWiki::run;Wide{i:03} 5")));
        lines.sort();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let cut = fit(&lines, 0.0, false).expect("over budget");
        assert_eq!(cut.min_samples, 2);
        assert_eq!(cut.total, 40_500);
        assert_eq!(cut.frames_before, 40_102);
        assert_eq!(cut.frames_after, 102);
        // inferno keeps frames of at least min_width_pct percent of the total.
        let drawn_from = cut.min_width_pct() * 40_500.0 / 100.0;
        assert!(drawn_from > 1.0 && drawn_from <= 2.0, "{drawn_from}");
        assert!(cut.subtitle().contains("Frames under 2 samples"));
    }

    #[test]
    fn frames_already_too_narrow_do_not_count() {
        // 40,000 one-sample leaves, but drawn from 2 samples anyway: within budget.
        let lines = wide(40_000);
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let pct = 2.0 * 100.0 / 40_000.0;
        assert_eq!(fit(&lines, pct, false), None);
    }

    #[test]
    fn long_names_are_cut_by_bytes_before_frames() {
        let name = "X".repeat(400);
        let mut lines: Vec<String> = (0..20_000)
            .map(|i| format!("index.php;{name}{i:06} {}", 1 + i % 2))
            .collect();
        lines.sort();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let cut = fit(&lines, 0.0, false).expect("over the byte budget");
        assert!(cut.frames_after < 20_000);
        assert!(
            estimated_bytes(&vec![
                Frame {
                    samples: 1,
                    name_len: 406
                };
                cut.frames_after
            ]) <= MAX_SVG_BYTES
        );
    }

    #[test]
    fn differential_lines_are_as_wide_as_their_second_count() {
        let mut lines: Vec<String> = (0..40_000)
            .map(|i| format!("index.php;Leaf{i:06} 7 1"))
            .collect();
        lines.push("index.php;Wide 0 100".to_owned());
        lines.sort();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let cut = fit(&lines, 0.0, true).expect("over budget");
        assert_eq!(cut.total, 40_100);
        assert_eq!(cut.min_samples, 2);
        assert_eq!(cut.frames_after, 2);
    }

    #[test]
    fn lines_without_a_count_are_left_to_inferno() {
        assert_eq!(fit(&["index.php;a", "index.php;b 1"], 0.0, false), None);
    }
}
