//! The order of stacks given as frames: exactly the bytewise order of their `;`-joined text,
//! without joining them.
//!
//! Trace logs list stacks sorted bytewise by their text (`a;b;c`). Interned stacks are held
//! as frames ([`crate::ingest::stacks::StackTable::frames`]), and joining two multi-kilobyte stacks
//! only to compare them is what made a checkpoint copy a window's whole text. [`compare`]
//! walks both frame sequences as if the separators were there: it compares the frames'
//! bytes chunk by chunk and, where one side's frame ends, the `;` that would follow it (or
//! the end of the text, when the stack has no more frames) against the other side's next
//! byte. So frames that are prefixes of each other order as their text does: `a;b!` sorts
//! before `a;b;x` because `!` (0x21) is below `;` (0x3B), and `a;b<` after it because `<`
//! (0x3C) is above; `a;b` sorts before `a;b;c` (a prefix is smaller); empty frames are
//! empty stretches between separators (`a;;b` is below `a;b`).
//!
//! It works on any iterator of frames, so reversed stacks are ordered by passing
//! `frames.rev()`: the result is then the order of the reversed stacks' joined text
//! (`c;b;a`). Frames may even contain `;` themselves: the result is still the order of the
//! joined text, though such frames do not round-trip through a `;`-separated log.

use std::cmp::Ordering;

/// The byte that separates frames in a stack's text.
pub const SEPARATOR: u8 = b';';

/// Compare two stacks given as their frames (root first, or leaf first for reversed
/// stacks), in the bytewise order of their `;`-joined text: the same result as
/// `join(a, ";").cmp(&join(b, ";"))`, without building either text.
///
/// A stack with no frames has the empty text, as does a stack of one empty frame; the two
/// compare equal.
pub fn compare<'a, 'b>(
    a: impl IntoIterator<Item = &'a [u8]>,
    b: impl IntoIterator<Item = &'b [u8]>,
) -> Ordering {
    let mut a = Chunks::new(a.into_iter());
    let mut b = Chunks::new(b.into_iter());
    // The not yet compared rest of the current chunk on each side.
    let mut left: &[u8] = &[];
    let mut right: &[u8] = &[];
    loop {
        while left.is_empty() {
            match a.next() {
                Some(chunk) => left = chunk,
                None => break,
            }
        }
        while right.is_empty() {
            match b.next() {
                Some(chunk) => right = chunk,
                None => break,
            }
        }
        // An empty rest here means that side's text has ended: a prefix sorts first.
        match (left.is_empty(), right.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        let common = left.len().min(right.len());
        match left[..common].cmp(&right[..common]) {
            Ordering::Equal => {
                left = &left[common..];
                right = &right[common..];
            }
            unequal => return unequal,
        }
    }
}

/// A stack's text as a sequence of byte chunks: the first frame, then `;` and the next
/// frame, and so on.
struct Chunks<'a, I> {
    frames: I,
    started: bool,
    /// A frame whose separator was just handed out.
    pending: Option<&'a [u8]>,
}

impl<'a, I: Iterator<Item = &'a [u8]>> Chunks<'a, I> {
    fn new(frames: I) -> Self {
        Chunks {
            frames,
            started: false,
            pending: None,
        }
    }
}

impl<'a, I: Iterator<Item = &'a [u8]>> Iterator for Chunks<'a, I> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if let Some(frame) = self.pending.take() {
            return Some(frame);
        }
        let frame = self.frames.next()?;
        if !self.started {
            self.started = true;
            return Some(frame);
        }
        self.pending = Some(frame);
        Some(&[SEPARATOR])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg32;

    fn split(stack: &str) -> Vec<&[u8]> {
        stack.as_bytes().split(|&b| b == SEPARATOR).collect()
    }

    fn by_frames(a: &str, b: &str) -> Ordering {
        compare(split(a), split(b))
    }

    #[test]
    fn frames_that_are_prefixes_of_each_other_order_as_their_text() {
        let cases = [
            ("a;b!", "a;b;x"),
            ("a;b;x", "a;b<"),
            ("a;b", "a;b;c"),
            ("a;b", "a;b!"),
            ("a;b", "a;b "),
            ("a;;b", "a;b"),
            ("a;b", "a;b;"),
            ("a;b;", "a;b;c"),
            ("a b", "a;b"),
            ("a:b", "a<b"),
            ("a;b:", "a;b<"),
            (";a", "a"),
            ("", "a"),
            ("ab;c", "abc"),
            ("a;bc", "ab;c"),
        ];
        for (lower, higher) in cases {
            assert_eq!(lower.cmp(higher), Ordering::Less, "{lower:?} < {higher:?}");
            assert_eq!(
                by_frames(lower, higher),
                Ordering::Less,
                "{lower:?} < {higher:?}"
            );
            assert_eq!(
                by_frames(higher, lower),
                Ordering::Greater,
                "{higher:?} > {lower:?}"
            );
            assert_eq!(by_frames(lower, lower), Ordering::Equal, "{lower:?}");
        }
    }

    #[test]
    fn no_frames_and_one_empty_frame_are_both_the_empty_text() {
        let none: [&[u8]; 0] = [];
        assert_eq!(compare(none, [&b""[..]]), Ordering::Equal);
        assert_eq!(compare(none, [&b"a"[..]]), Ordering::Less);
        assert_eq!(compare([&b""[..], b""], [&b""[..]]), Ordering::Greater);
    }

    /// A random stack over a small alphabet that holds the bytes right around `;` (`:` and
    /// `<`), below it (`!`, space) and letters, with frequent empty and shared frames, so
    /// that prefixes and ties are common.
    fn random_frames(rng: &mut Pcg32, alphabet: &[u8]) -> Vec<Vec<u8>> {
        let depth = rng.random_range(0..6);
        (0..depth)
            .map(|_| {
                let len = rng.random_range(0..4);
                (0..len)
                    .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                    .collect()
            })
            .collect()
    }

    fn joined<'a>(frames: impl Iterator<Item = &'a Vec<u8>>) -> Vec<u8> {
        let frames: Vec<&[u8]> = frames.map(Vec::as_slice).collect();
        frames.join(&SEPARATOR)
    }

    fn check_against_joined_text(alphabet: &[u8], seed: u64) {
        let mut rng = Pcg32::seed_from_u64(seed);
        let stacks: Vec<Vec<Vec<u8>>> = (0..400)
            .map(|_| random_frames(&mut rng, alphabet))
            .collect();
        let mut unequal = 0;
        for a in &stacks {
            for b in &stacks {
                let expected = joined(a.iter()).cmp(&joined(b.iter()));
                let got = compare(a.iter().map(Vec::as_slice), b.iter().map(Vec::as_slice));
                assert_eq!(got, expected, "{a:?} vs {b:?}");
                let expected_reversed = joined(a.iter().rev()).cmp(&joined(b.iter().rev()));
                let got_reversed = compare(
                    a.iter().rev().map(Vec::as_slice),
                    b.iter().rev().map(Vec::as_slice),
                );
                assert_eq!(got_reversed, expected_reversed, "reversed {a:?} vs {b:?}");
                unequal += usize::from(expected != Ordering::Equal);
            }
        }
        // The alphabet is small enough for many ties, large enough for many differences.
        assert!(unequal > stacks.len() * stacks.len() / 2, "{unequal}");
    }

    #[test]
    fn agrees_with_comparing_the_joined_text_on_random_stacks() {
        for seed in 0..5 {
            check_against_joined_text(b"ab!:< ", seed);
        }
    }

    #[test]
    fn agrees_with_the_joined_text_even_when_frames_hold_separators() {
        check_against_joined_text(b"a!:<;", 7);
    }

    #[test]
    fn sorting_by_frames_sorts_the_text() {
        let mut rng = Pcg32::seed_from_u64(11);
        let stacks: Vec<Vec<Vec<u8>>> = (0..2000)
            .map(|_| random_frames(&mut rng, b"xy!:< "))
            .collect();
        let mut by_text: Vec<Vec<u8>> = stacks.iter().map(|s| joined(s.iter())).collect();
        by_text.sort();
        let mut by_frames = stacks;
        by_frames.sort_by(|a, b| compare(a.iter().map(Vec::as_slice), b.iter().map(Vec::as_slice)));
        let by_frames: Vec<Vec<u8>> = by_frames.iter().map(|s| joined(s.iter())).collect();
        assert_eq!(by_frames, by_text);
    }
}
