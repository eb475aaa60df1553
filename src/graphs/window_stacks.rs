//! A window's distinct stacks read from its trace log into a [`StackTable`], so that its
//! graphs can be drawn without holding the log's text: each distinct frame is stored once
//! and a stack is a list of 4-byte frame ids (about 0.15 of the text for real stacks).
//!
//! The log is decompressed as it is read. Stacks are listed in forward order (a log is
//! written sorted, so that is the order they arrive in; an unsorted log, e.g. an imported
//! one, is sorted here) and, on demand, in reversed order (sorted by their reversed text,
//! leaf frame first), both exactly the bytewise order of the `;`-joined text that inferno's
//! merge needs ([`crate::ingest::frame_order`]). Lines are read as [`crate::store::folded`] reads them:
//! sanitized, duplicates summed, malformed lines counted and skipped.

use std::cmp::Ordering;
use std::io::{self, BufRead, Read};

use crate::ingest::frame_order;
use crate::ingest::stacks::{StackId, StackTable};
use crate::store::compress;
use crate::store::folded::{clean_line, for_each_line};

/// A window's distinct stacks with their counts.
pub struct WindowStacks {
    table: StackTable,
    /// Distinct stacks in forward order.
    forward: Vec<(StackId, u64)>,
    /// Sum of all counts.
    pub samples: u64,
    /// Lines that were not `STACK COUNT` with a count of at least 1.
    pub malformed_lines: u64,
}

impl WindowStacks {
    /// Read a trace log, gzip'd or plain.
    pub fn read(log: impl Read) -> io::Result<WindowStacks> {
        Self::read_lines(compress::maybe_gunzip_reader(log)?)
    }

    /// Read folded lines (already decompressed) until the end of `input`.
    pub fn read_lines(input: impl BufRead) -> io::Result<WindowStacks> {
        let mut table = StackTable::new();
        let mut forward: Vec<(StackId, u64)> = Vec::new();
        let mut samples = 0u64;
        let mut malformed_lines = 0;
        let mut sorted = true;
        let mut previous = Vec::new();
        let mut line_buffer = Vec::new();
        for_each_line(input, |line| {
            let Some((stack, count)) = clean_line(line, &mut line_buffer) else {
                if !line.is_empty() && line != b"\r" {
                    malformed_lines += 1;
                }
                return;
            };
            if sorted && !forward.is_empty() && stack < &previous[..] {
                sorted = false;
            }
            previous.clear();
            previous.extend_from_slice(stack);
            samples = samples.saturating_add(count);
            let id = table.intern(stack);
            match forward.last_mut() {
                Some((last, sum)) if *last == id => *sum = sum.saturating_add(count),
                _ => forward.push((id, count)),
            }
        })?;
        let mut stacks = WindowStacks {
            table,
            forward,
            samples,
            malformed_lines,
        };
        if !sorted {
            let unsorted = std::mem::take(&mut stacks.forward);
            let ordered = stacks.ordered(unsorted, false);
            stacks.forward = ordered;
        }
        Ok(stacks)
    }

    /// Number of distinct stacks.
    pub fn len(&self) -> usize {
        self.forward.len()
    }

    /// True when the log had no valid line.
    pub fn is_empty(&self) -> bool {
        self.forward.is_empty()
    }

    /// The distinct stacks and their counts, sorted by their text.
    pub fn forward(&self) -> &[(StackId, u64)] {
        &self.forward
    }

    /// The distinct stacks and their counts, sorted by their reversed text (leaf first).
    pub fn reversed(&self) -> Vec<(StackId, u64)> {
        self.ordered(self.forward.clone(), true)
    }

    /// Append the text of stack `id` to `out`, frames in reverse order when `reversed`.
    pub fn write_text(&self, id: StackId, reversed: bool, out: &mut Vec<u8>) {
        let frames = self.table.frame_ids(id);
        let mut push = |i: usize, frame: &u32| {
            if i > 0 {
                out.push(b';');
            }
            out.extend_from_slice(self.table.frame_text(*frame));
        };
        if reversed {
            frames
                .iter()
                .rev()
                .enumerate()
                .for_each(|(i, f)| push(i, f));
        } else {
            frames.iter().enumerate().for_each(|(i, f)| push(i, f));
        }
    }

    /// True when stack `id` has a frame exactly equal to `function`.
    pub fn has_frame(&self, id: StackId, function: &[u8]) -> bool {
        self.table
            .frame_ids(id)
            .iter()
            .any(|&frame| self.table.frame_text(frame) == function)
    }

    /// `stacks` sorted by text (or reversed text), equal stacks summed.
    fn ordered(&self, mut stacks: Vec<(StackId, u64)>, reversed: bool) -> Vec<(StackId, u64)> {
        stacks.sort_unstable_by(|a, b| self.compare(a.0, b.0, reversed));
        let mut merged: Vec<(StackId, u64)> = Vec::with_capacity(stacks.len());
        for (id, count) in stacks {
            match merged.last_mut() {
                Some((last, sum)) if *last == id => *sum = sum.saturating_add(count),
                _ => merged.push((id, count)),
            }
        }
        merged
    }

    /// The order of two stacks' texts (or reversed texts). Leading frames both share are
    /// skipped by id, without reading their text; the rest is compared as text.
    fn compare(&self, a: StackId, b: StackId, reversed: bool) -> Ordering {
        if a == b {
            return Ordering::Equal;
        }
        let (a, b) = (self.table.frame_ids(a), self.table.frame_ids(b));
        let text = |frame: &u32| self.table.frame_text(*frame);
        if reversed {
            let common = a
                .iter()
                .rev()
                .zip(b.iter().rev())
                .take_while(|(x, y)| x == y)
                .count();
            let (a, b) = (&a[..a.len() - common], &b[..b.len() - common]);
            match (a.is_empty(), b.is_empty()) {
                // After shared frames, the text that ends first is a prefix of the other.
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (false, false) => {
                    frame_order::compare(a.iter().rev().map(text), b.iter().rev().map(text))
                }
            }
        } else {
            let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            let (a, b) = (&a[common..], &b[common..]);
            match (a.is_empty(), b.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (false, false) => frame_order::compare(a.iter().map(text), b.iter().map(text)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(stacks: &WindowStacks, order: &[(StackId, u64)], reversed: bool) -> Vec<String> {
        order
            .iter()
            .map(|&(id, count)| {
                let mut text = Vec::new();
                stacks.write_text(id, reversed, &mut text);
                format!("{} {count}", String::from_utf8(text).unwrap())
            })
            .collect()
    }

    #[test]
    fn sorted_logs_keep_their_order_and_unsorted_ones_are_sorted() {
        let sorted = b"a;b 3\na;b0 1\na;b;c 2\nx;;y 1\n";
        let log = compress::gzip(sorted);
        let stacks = WindowStacks::read(&log[..]).unwrap();
        let forward = texts(&stacks, stacks.forward(), false);
        assert_eq!(forward, ["a;b 3", "a;b0 1", "a;b;c 2", "x;;y 1"]);
        assert_eq!(stacks.samples, 7);
        let unsorted =
            WindowStacks::read(&b"x;;y 1\na;b;c 2\na;b 1\nbad line\na;b0 1\na;b 2\n"[..]).unwrap();
        assert_eq!(texts(&unsorted, unsorted.forward(), false), forward);
        assert_eq!(unsorted.malformed_lines, 1);
    }

    #[test]
    fn reversed_order_is_the_order_of_the_reversed_text() {
        let input = b"a;b 1\nb;a 2\nc;b 1\nq;b! 1\nz;b;x 1\nx;;y 1\nr ;q 1\n";
        let stacks = WindowStacks::read(&input[..]).unwrap();
        let got = texts(&stacks, &stacks.reversed(), true);
        let mut expected: Vec<String> = std::str::from_utf8(input)
            .unwrap()
            .lines()
            .map(|line| {
                let (stack, count) = line.rsplit_once(' ').unwrap();
                let reversed: Vec<&str> = stack.split(';').rev().collect();
                format!("{} {count}", reversed.join(";"))
            })
            .collect();
        expected.sort_by(|a, b| {
            a.rsplit_once(' ')
                .unwrap()
                .0
                .cmp(b.rsplit_once(' ').unwrap().0)
        });
        assert_eq!(got, expected);
        assert!(stacks.has_frame(stacks.forward()[0].0, b"b"));
        assert!(!stacks.has_frame(stacks.forward()[0].0, b"a;b"));
    }
}
