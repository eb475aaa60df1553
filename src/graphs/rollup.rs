//! Roll-ups: one range summary for a block of 8 or 64 consecutive windows, so that a range
//! over two years of daily windows (730) merges about 30 summaries instead of 730, and
//! opens in seconds.
//!
//! ```text
//! logs/{period}/{first}.{channel}.{entry}.rollup{8|64}.{sources}.gz
//! ```
//!
//! A roll-up has the format of a window's range summary ([`crate::graphs::range_summary`]):
//! the block's forward and reversed trees, pruned at [`range_summary::cutoff`] of the
//! block's samples. Blocks are aligned on the period's window index
//! ([`Period::window_index`]): a block of 64 daily windows holds 8 blocks of 8. `first` is
//! the block's first window, and `sources` (16 hex digits) a fingerprint of the name and
//! size of every log in the block when it was built ([`fingerprint`]): a range checks it
//! against a listing, so a roll-up whose windows changed since is never used (and is built
//! again), without reading it.
//!
//! **Error bound.** A block's roll-up is merged from its windows' summaries (or from the
//! roll-ups of its 8 smaller blocks) and pruned again, so a frame's width in it differs from
//! the exact one by less than three times the block's cutoff (one for each pruning); a range
//! graph from roll-ups is within three times [`range_summary::RESOLUTION`] of the narrowest
//! frame it draws, and says so under its title.
//!
//! Pure: [`cover`] plans which roll-ups and windows a range reads, [`build`] makes a
//! roll-up's bytes; [`crate::graphs::on_demand`] lists, reads and writes them.

use std::io;

use crate::graphs::range::{self, RangeInput};
use crate::graphs::range_summary::{self, RangeSummary};
use crate::graphs::render::tree::PrunedLines;
use crate::ingest::window::{Period, Window};

/// Block sizes, largest first: a roll-up covers this many consecutive windows.
pub const BLOCK_SIZES: [usize; 2] = [64, 8];

/// The smallest block: larger blocks are built from its roll-ups, and a range shorter than
/// it reads no roll-up.
pub const SMALLEST_BLOCK: usize = BLOCK_SIZES[BLOCK_SIZES.len() - 1];

/// The roll-up a piece of a range reads, or the window it reads on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// One window (`windows[index]`).
    Window(usize),
    /// The roll-up of `windows[first..first + size]`.
    Rollup {
        /// Index of the block's first window in the range.
        first: usize,
        /// Windows in the block.
        size: usize,
    },
}

/// The fewest pieces that read `windows` (consecutive windows of `period`, oldest first):
/// every block of [`BLOCK_SIZES`] that lies wholly inside the range and for which `usable`
/// (given the index of its first window in `windows` and its size) says a current roll-up
/// exists, largest blocks first; every other window on its own.
pub fn cover(
    period: &Period,
    windows: &[Window],
    mut usable: impl FnMut(usize, usize) -> bool,
) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut at = 0;
    'windows: while at < windows.len() {
        let index = period.window_index(&windows[at]);
        for size in BLOCK_SIZES {
            let aligned = index.rem_euclid(size as i64) == 0;
            if aligned && at + size <= windows.len() && usable(at, size) {
                pieces.push(Piece::Rollup { first: at, size });
                at += size;
                continue 'windows;
            }
        }
        pieces.push(Piece::Window(at));
        at += 1;
    }
    pieces
}

/// The first window of the block of `size` windows that holds `window`.
pub fn block_start(period: &Period, window: &Window, size: usize) -> Option<Window> {
    let index = period.window_index(window);
    period.window_with_index(index - index.rem_euclid(size as i64))
}

/// The windows of the block of `size` windows that starts at `first`, oldest first.
pub fn block_windows(period: &Period, first: &Window, size: usize) -> Vec<Window> {
    let index = period.window_index(first);
    (0..size as i64)
        .filter_map(|offset| period.window_with_index(index + offset))
        .collect()
}

/// A fingerprint of a block's logs, `(window name, log size)` in window order (FNV-1a):
/// it changes when a log is added, removed, or rewritten to another size.
pub fn fingerprint<'a>(logs: impl IntoIterator<Item = (&'a str, u64)>) -> u64 {
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (window, size) in logs {
        for byte in window
            .bytes()
            .chain([b'\t'])
            .chain(size.to_string().into_bytes())
            .chain([b'\n'])
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// A roll-up's bytes: `inputs` (a block's window summaries or logs, or the roll-ups of its
/// smaller blocks, each decoded with both trees) merged forward and reversed, pruned at the
/// cutoff for graphs drawn at `min_width_pct`. `log_bytes` is recorded as the summary's
/// log size (the block's logs together); roll-ups are checked by their name's fingerprint.
pub fn build(inputs: &[RangeInput], min_width_pct: f64, log_bytes: u64) -> io::Result<Vec<u8>> {
    let cutoff = |samples| range_summary::cutoff(samples, min_width_pct);
    let pruned = |reversed| -> io::Result<PrunedLines> {
        let merged = range::merge(inputs, reversed, cutoff)?;
        Ok(PrunedLines {
            lines: merged.text.lines().count(),
            samples: merged.samples,
            lines_read: 0,
            dropped_frames: 0,
            text: merged.text,
        })
    };
    let forward = pruned(false)?;
    let reversed = pruned(true)?;
    Ok(RangeSummary::encode(
        log_bytes,
        cutoff(forward.samples),
        &forward,
        &reversed,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daily() -> Period {
        Period::new("daily", "%Y-%m-%d").unwrap()
    }

    fn days(from: &str, count: usize) -> Vec<Window> {
        let period = daily();
        let first = period.window_named(from).unwrap();
        block_windows(&period, &first, count)
    }

    #[test]
    fn a_range_reads_the_largest_usable_blocks_inside_it_and_single_windows_around_them() {
        let period = daily();
        // Index 20,480 (2026-01-27) starts a block of 64; 1970-01-01 is index 0.
        let start = period.window_with_index(20_480 - 3).unwrap();
        let windows = block_windows(&period, &start, 3 + 64 + 8 + 2);
        let pieces = cover(&period, &windows, |_, _| true);
        let expected: Vec<Piece> = [
            Piece::Window(0),
            Piece::Window(1),
            Piece::Window(2),
            Piece::Rollup { first: 3, size: 64 },
            Piece::Rollup { first: 67, size: 8 },
            Piece::Window(75),
            Piece::Window(76),
        ]
        .into();
        assert_eq!(pieces, expected);
        // Without the large roll-up, its eight small ones.
        let pieces = cover(&period, &windows, |_, size| size == 8);
        assert_eq!(pieces.len(), 3 + 9 + 2);
        assert!(pieces[3..12]
            .iter()
            .all(|p| matches!(p, Piece::Rollup { size: 8, .. })));
        // Without any, every window on its own.
        assert_eq!(cover(&period, &windows, |_, _| false).len(), windows.len());
    }

    #[test]
    fn a_block_cut_by_the_range_is_not_used() {
        let period = daily();
        let start = period.window_with_index(20_480 + 1).unwrap();
        let windows = block_windows(&period, &start, 70);
        let pieces = cover(&period, &windows, |_, _| true);
        // Windows 1..8 of the 64-block: 7 single windows, then 7 blocks of 8 (56 windows),
        // then the 7 windows of the next block's start.
        assert_eq!(pieces.len(), 7 + 7 + 7, "{pieces:?}");
        assert_eq!(pieces[7], Piece::Rollup { first: 7, size: 8 });
    }

    #[test]
    fn blocks_are_aligned_on_the_window_index() {
        let period = daily();
        let window = period.window_named("2026-01-30").unwrap();
        let start = block_start(&period, &window, 8).unwrap();
        assert_eq!(period.window_index(&start) % 8, 0);
        assert!(
            start.start <= window.start && window.start < start.start + chrono::Duration::days(8)
        );
        assert_eq!(days(&start.name, 8).len(), 8);
    }

    #[test]
    fn the_fingerprint_changes_with_any_log() {
        let base = fingerprint([("2026-01-01", 100), ("2026-01-02", 200)]);
        assert_eq!(
            base,
            fingerprint([("2026-01-01", 100), ("2026-01-02", 200)])
        );
        assert_ne!(
            base,
            fingerprint([("2026-01-01", 100), ("2026-01-02", 201)])
        );
        assert_ne!(base, fingerprint([("2026-01-01", 100)]));
        assert_ne!(
            base,
            fingerprint([("2026-01-01", 1002), ("2026-01-02", 00)])
        );
    }

    #[test]
    fn a_rollup_reads_back_as_the_merge_of_its_windows() {
        let log = |lines: &str| RangeInput::Log(bytes::Bytes::from(lines.to_owned()));
        let inputs = [log("main;a;b 5\nmain;c 3\n"), log("main;a;b 2\nmain;d 1\n")];
        let bytes = build(&inputs, 0.0, 42).unwrap();
        let summary = RangeSummary::decode(&bytes).unwrap();
        assert_eq!((summary.samples, summary.log_bytes), (11, 42));
        let mut forward = Vec::new();
        summary.for_each_line(false, |l| {
            forward.push(String::from_utf8_lossy(l).into_owned())
        });
        assert_eq!(forward, ["main;a;b 7", "main;c 3", "main;d 1"]);
        let mut reversed = Vec::new();
        summary.for_each_line(true, |l| {
            reversed.push(String::from_utf8_lossy(l).into_owned())
        });
        assert_eq!(reversed, ["b;a;main 7", "c;main 3", "d;main 1"]);
        // A roll-up merges again like any summary: two of them are the sum.
        let twice = range::merge(
            &[
                RangeInput::Summary(summary.clone()),
                RangeInput::Summary(summary),
            ],
            false,
            |_| 0.0,
        )
        .unwrap();
        assert_eq!(twice.lines(), ["main;a;b 14", "main;c 6", "main;d 2"]);
    }
}
