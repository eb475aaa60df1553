//! The folded trace-log format: one `STACK COUNT` line per distinct stack, sorted in
//! bytewise ascending order, gzip-compressed. It is what flamegraph.pl, inferno and
//! speedscope read, and what arclamp checkpoints, reloads and renders.
//!
//! Reading is lenient about its input (plain or gzip, aggregated or one line per sample,
//! unsorted) and strict about each line: a line without a valid count is counted and
//! skipped, never fatal.

use std::io::Write;

use hashbrown::HashMap;
use memchr::memrchr;

use crate::compress::{self, GunzipError};
use crate::sample::sanitize_in_place;

/// Aggregated stacks borrowed from a decoded buffer, sorted bytewise by stack.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Folded<'a> {
    /// Distinct stacks with their summed counts, sorted by stack.
    pub stacks: Vec<(&'a [u8], u64)>,
    /// Lines that were not `STACK COUNT` with a count of at least 1.
    pub malformed_lines: u64,
}

impl Folded<'_> {
    /// Sum of all counts.
    pub fn total(&self) -> u64 {
        self.stacks.iter().map(|(_, count)| count).sum()
    }
}

/// Decode a trace log or any folded input into an owned, sanitized text buffer, ready for
/// [`aggregate`].
pub fn decode(data: &[u8]) -> Result<Vec<u8>, GunzipError> {
    let mut text = compress::maybe_gunzip(data)?.into_owned();
    sanitize_lines(&mut text);
    Ok(text)
}

/// Same as [`decode`], taking ownership: plain input is sanitized in its own buffer rather
/// than copied, which spares a large input (`arclamp render` on a day of raw samples) a
/// second buffer of its size.
pub fn decode_owned(data: Vec<u8>) -> Result<Vec<u8>, GunzipError> {
    if compress::is_gzip(&data) {
        return decode(&data);
    }
    let mut text = data;
    sanitize_lines(&mut text);
    Ok(text)
}

fn sanitize_lines(text: &mut [u8]) {
    // Our own logs are already clean; imported ones may not be.
    for line in text.split_mut(|&b| b == b'\n') {
        let line = match line {
            [head @ .., b'\r'] => head,
            line => line,
        };
        sanitize_in_place(line);
    }
}

/// Aggregate folded lines from a decoded buffer: duplicate stacks are summed (so one line
/// per sample works), the result sorted bytewise.
pub fn aggregate(text: &[u8]) -> Folded<'_> {
    let mut counts: HashMap<&[u8], u64, foldhash::fast::RandomState> = HashMap::default();
    let mut malformed_lines = 0;
    for line in crate::sample::lines(text) {
        match parse_line(line) {
            Some((stack, count)) => {
                let total = counts.entry(stack).or_insert(0);
                *total = total.saturating_add(count);
            }
            None => malformed_lines += 1,
        }
    }
    let mut stacks: Vec<(&[u8], u64)> = counts.into_iter().collect();
    stacks.sort_unstable_by(|a, b| a.0.cmp(b.0));
    Folded {
        stacks,
        malformed_lines,
    }
}

/// Split `STACK COUNT` (count of at least 1, up to u64) into its parts.
pub fn parse_line(line: &[u8]) -> Option<(&[u8], u64)> {
    let space = memrchr(b' ', line)?;
    let digits = &line[space + 1..];
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let count = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    let stack = line[..space].trim_ascii_end();
    (count > 0 && !stack.is_empty()).then_some((stack, count))
}

/// Writes a trace log: `STACK COUNT` lines into a gzip stream in memory. Callers push
/// stacks already sorted bytewise.
pub struct FoldedWriter {
    encoder: flate2::write::GzEncoder<Vec<u8>>,
    line: Vec<u8>,
}

impl FoldedWriter {
    /// A writer expecting about `text_bytes` of uncompressed text.
    pub fn new(text_bytes: usize) -> Self {
        FoldedWriter {
            encoder: compress::gzip_writer(text_bytes / 8 + 64),
            line: Vec::with_capacity(4096),
        }
    }

    /// Append one stack given as its frames.
    pub fn push_frames<'f>(&mut self, frames: impl IntoIterator<Item = &'f [u8]>, count: u64) {
        self.line.clear();
        for (i, frame) in frames.into_iter().enumerate() {
            if i > 0 {
                self.line.push(b';');
            }
            self.line.extend_from_slice(frame);
        }
        self.finish_line(count);
    }

    /// Append one stack given as its text.
    pub fn push(&mut self, stack: &[u8], count: u64) {
        self.line.clear();
        self.line.extend_from_slice(stack);
        self.finish_line(count);
    }

    fn finish_line(&mut self, count: u64) {
        self.line.push(b' ');
        self.line.extend_from_slice(count.to_string().as_bytes());
        self.line.push(b'\n');
        // Writing into a Vec cannot fail.
        self.encoder.write_all(&self.line).expect("write to Vec");
    }

    /// The finished gzip bytes.
    pub fn finish(self) -> Vec<u8> {
        self.encoder.finish().expect("finish into Vec")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_one_line_per_sample_input_and_sorts_bytewise() {
        let text = decode(b"b;c 1\na;b 2\nb;c 1\nB 1\n").unwrap();
        let folded = aggregate(&text);
        let got: Vec<(&str, u64)> = folded
            .stacks
            .iter()
            .map(|(s, c)| (std::str::from_utf8(s).unwrap(), *c))
            .collect();
        assert_eq!(got, vec![("B", 1), ("a;b", 2), ("b;c", 2)]);
        assert_eq!(folded.total(), 5);
        assert_eq!(folded.malformed_lines, 0);
    }

    #[test]
    fn counts_malformed_lines_and_keeps_the_good_ones() {
        let text = decode(b"a 1\nnocount\nb 0\n 3\nc x\nd 18446744073709551616\ne 2\r\n").unwrap();
        let folded = aggregate(&text);
        assert_eq!(folded.stacks, vec![(&b"a"[..], 1), (&b"e"[..], 2)]);
        assert_eq!(folded.malformed_lines, 5);
    }

    #[test]
    fn writer_output_reads_back_identically() {
        let mut writer = FoldedWriter::new(64);
        writer.push_frames([&b"a"[..], b"b"], 3);
        writer.push(b"a;c", u64::from(u32::MAX) * 3);
        let gz = writer.finish();
        assert!(compress::is_gzip(&gz));
        let text = decode(&gz).unwrap();
        assert_eq!(
            text,
            format!("a;b 3\na;c {}\n", u64::from(u32::MAX) * 3).into_bytes()
        );
        assert_eq!(aggregate(&text).total(), 3 + u64::from(u32::MAX) * 3);
    }

    #[test]
    fn decode_sanitizes_control_bytes() {
        assert_eq!(decode(b"a\x1b;\xffb 1\n").unwrap(), b"a?;?b 1\n");
    }

    #[test]
    fn decode_owned_decodes_like_decode() {
        for input in [
            &b"a\x1b;\xffb 1\r\nc 2\n"[..],
            &compress::gzip(b"a\x1b;b 1\n"),
        ] {
            assert_eq!(
                decode_owned(input.to_vec()).unwrap(),
                decode(input).unwrap()
            );
        }
    }
}
