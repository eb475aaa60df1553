//! The folded trace-log format: one `STACK COUNT` line per distinct stack, sorted in
//! bytewise ascending order, gzip-compressed. It is what flamegraph.pl, inferno and
//! speedscope read, and what arclamp checkpoints, reloads and renders.
//!
//! Reading is lenient about its input (plain or gzip, aggregated or one line per sample,
//! unsorted) and strict about each line: a line without a valid count is counted and
//! skipped, never fatal.

use std::hash::BuildHasher;
use std::io::{self, BufRead, Read, Write};

use hashbrown::{HashMap, HashTable};
use memchr::{memchr, memrchr};

use crate::ingest::sample::sanitize_in_place;
use crate::store::compress::{self, GunzipError};

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

/// Decode a trace log (gzip'd or plain) read from `input` into sanitized text (as
/// [`decode`] makes it) in chunks of whole lines, about `chunk` bytes each (a longer line is
/// a chunk of its own), after skipping its first `skip` bytes of text. `each` gets every
/// chunk and returns `false` to stop early. For logs too large to decode whole: a day's is
/// gigabytes of text. `skip` lets a reader that had to stop resume after the chunks it took
/// (chunks end at line ends, so a resumed read starts on a line).
pub fn decode_chunks(
    input: impl Read,
    chunk: usize,
    skip: u64,
    mut each: impl FnMut(Vec<u8>) -> bool,
) -> io::Result<()> {
    let chunk = chunk.max(1);
    let mut text = compress::maybe_gunzip_reader(input)?;
    let skipped = io::copy(&mut (&mut text).take(skip), &mut io::sink())?;
    if skipped < skip {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the log holds {skipped} bytes of text, fewer than the {skip} already read"),
        ));
    }
    let mut pending: Vec<u8> = Vec::new();
    loop {
        // A line longer than a chunk reads on a chunk at a time.
        let wanted = if pending.len() < chunk {
            chunk - pending.len()
        } else {
            chunk
        };
        let read = (&mut text).take(wanted as u64).read_to_end(&mut pending)?;
        let at_end = read == 0;
        let cut = if at_end {
            pending.len()
        } else {
            match memrchr(b'\n', &pending) {
                Some(line_end) => line_end + 1,
                // No line end yet: a line longer than a chunk; read on.
                None => continue,
            }
        };
        if cut > 0 {
            let rest = pending.split_off(cut);
            let mut ready = std::mem::replace(&mut pending, rest);
            sanitize_lines(&mut ready);
            if !each(ready) {
                return Ok(());
            }
        }
        if at_end {
            return Ok(());
        }
    }
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
    for line in crate::ingest::sample::lines(text) {
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

/// Room kept after each stack in [`StackCounter`]'s text for ` COUNT` (a space and the up
/// to 20 digits of a u64), so that [`CountedStacks::lines`] can hand out whole `STACK COUNT`
/// lines without copying the stacks a second time.
const COUNT_SLOT: usize = 21;

/// One distinct stack in [`StackCounter`]'s text.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Kept so that growing the table does not rehash kilobytes of stack per entry.
    hash: u64,
    start: usize,
    len: usize,
    /// End of the `STACK COUNT` line once [`StackCounter::finish`] has written the count.
    line_end: usize,
    count: u64,
}

/// Aggregates folded lines as they are read, keeping one copy of each distinct stack.
///
/// This is [`decode`] and [`aggregate`] for input too large to hold whole: `arclamp render`
/// on a day of one-line-per-sample input reads 236 MB for 90 MB of distinct stacks, and
/// streaming it through a small buffer saves both the memory and the page faults of the
/// rest. Lines are handled exactly as there: a trailing `\r` dropped, the rest sanitized,
/// empty lines skipped, lines without a valid count counted as malformed.
#[derive(Default)]
pub struct StackCounter {
    /// Distinct stacks, each followed by [`COUNT_SLOT`] bytes of room for its count.
    text: Vec<u8>,
    table: HashTable<Entry>,
    hasher: foldhash::fast::RandomState,
    /// The line being parsed, sanitized; reused so that a line costs no allocation.
    line: Vec<u8>,
    malformed_lines: u64,
}

impl StackCounter {
    /// An empty counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Read folded lines (already decompressed) until the end of `input`.
    pub fn read_lines(&mut self, input: impl BufRead) -> io::Result<()> {
        for_each_line(input, |line| self.push_line(line))
    }

    /// Add one line of folded text, without its `\n`.
    pub fn push_line(&mut self, line: &[u8]) {
        let Some(parsed) = clean_line(line, &mut self.line) else {
            if !line.is_empty() && line != b"\r" {
                self.malformed_lines += 1;
            }
            return;
        };
        let (stack, count) = parsed;
        let hash = self.hasher.hash_one(stack);
        let text = &self.text;
        let found = self.table.find_mut(hash, |entry| {
            entry.len == stack.len() && &text[entry.start..entry.start + entry.len] == stack
        });
        if let Some(entry) = found {
            entry.count = entry.count.saturating_add(count);
            return;
        }
        let start = self.text.len();
        self.text.extend_from_slice(stack);
        self.text.extend_from_slice(&[b' '; COUNT_SLOT]);
        let entry = Entry {
            hash,
            start,
            len: stack.len(),
            line_end: start + stack.len(),
            count,
        };
        self.table.insert_unique(hash, entry, |entry| entry.hash);
    }

    /// The distinct stacks, sorted bytewise, with their counts written after them.
    pub fn finish(self) -> CountedStacks {
        let StackCounter {
            mut text,
            table,
            malformed_lines,
            ..
        } = self;
        let mut entries: Vec<Entry> = table.into_iter().collect();
        entries.sort_unstable_by(|a, b| {
            text[a.start..a.start + a.len].cmp(&text[b.start..b.start + b.len])
        });
        for entry in &mut entries {
            let slot_start = entry.start + entry.len;
            let mut slot = &mut text[slot_start..slot_start + COUNT_SLOT];
            // A u64 with its space takes at most COUNT_SLOT bytes, so this always fits.
            let _ = write!(slot, " {}", entry.count);
            let unused = slot.len();
            entry.line_end = slot_start + COUNT_SLOT - unused;
        }
        // Every byte is sanitized stack, a space or a digit, so the first branch is the only
        // one taken; the second keeps offsets valid even if that ever stopped being true.
        let text = String::from_utf8(text).unwrap_or_else(|error| {
            let mut bytes = error.into_bytes();
            sanitize_in_place(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        });
        CountedStacks {
            text,
            entries,
            malformed_lines,
        }
    }
}

/// Distinct stacks with their summed counts, sorted bytewise by stack, owning their text:
/// what [`StackCounter::finish`] returns.
#[derive(Debug)]
pub struct CountedStacks {
    text: String,
    entries: Vec<Entry>,
    /// Lines that were not `STACK COUNT` with a count of at least 1.
    pub malformed_lines: u64,
}

impl CountedStacks {
    /// True when no line had a valid stack and count.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The stacks and their counts, sorted bytewise by stack, as [`aggregate`] returns them.
    pub fn stacks(&self) -> Vec<(&[u8], u64)> {
        self.entries
            .iter()
            .map(|entry| {
                let stack = &self.text.as_bytes()[entry.start..entry.start + entry.len];
                (stack, entry.count)
            })
            .collect()
    }

    /// The `STACK COUNT` lines, sorted bytewise by stack, borrowed rather than copied.
    pub fn lines(&self) -> SortedLines<'_> {
        let lines = self
            .entries
            .iter()
            .map(|entry| &self.text[entry.start..entry.line_end])
            .collect();
        SortedLines { lines }
    }
}

/// `STACK COUNT` lines with distinct stacks, sorted bytewise by stack, each count at least 1
/// and every byte printable ASCII: what inferno reads, ready as is. Only
/// [`CountedStacks::lines`] makes them, which is what lets the renderer trust all of that
/// instead of copying, sanitizing and sorting the lines again.
#[derive(Debug, Clone)]
pub struct SortedLines<'a> {
    lines: Vec<&'a str>,
}

impl<'a> SortedLines<'a> {
    /// The lines, without their `\n`.
    pub fn as_slice(&self) -> &[&'a str] {
        &self.lines
    }

    /// True when there are no lines.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Keep the lines whose stack (the line without its count) satisfies `keep`; order, and
    /// so sortedness, is kept.
    pub fn retain_stacks(&mut self, mut keep: impl FnMut(&[u8]) -> bool) {
        self.lines.retain(|line| keep(stack_of(line.as_bytes())));
    }

    /// The stacks and their counts, for renderers that need them apart.
    pub fn stacks(&self) -> Vec<(&'a [u8], u64)> {
        self.lines
            .iter()
            .filter_map(|line| parse_line(line.as_bytes()))
            .collect()
    }
}

/// The stack part of a folded line: everything before its last space (the whole line when
/// it has none). Folded lines are sorted by this, not by the whole line.
pub fn stack_of(line: &[u8]) -> &[u8] {
    &line[..memrchr(b' ', line).unwrap_or(line.len())]
}

/// Call `f` with every line of `input` (already decompressed), without its `\n`, reading
/// through the reader's buffer: only a line split across two reads is copied first.
pub fn for_each_line(mut input: impl BufRead, mut f: impl FnMut(&[u8])) -> io::Result<()> {
    let mut partial = Vec::new();
    loop {
        let chunk = match input.fill_buf() {
            Ok(chunk) => chunk,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if chunk.is_empty() {
            break;
        }
        let mut rest = chunk;
        if !partial.is_empty() {
            let Some(end) = memchr(b'\n', rest) else {
                partial.extend_from_slice(rest);
                let read = chunk.len();
                input.consume(read);
                continue;
            };
            partial.extend_from_slice(&rest[..end]);
            f(&partial);
            partial.clear();
            rest = &rest[end + 1..];
        }
        while let Some(end) = memchr(b'\n', rest) {
            f(&rest[..end]);
            rest = &rest[end + 1..];
        }
        partial.extend_from_slice(rest);
        let read = chunk.len();
        input.consume(read);
    }
    if !partial.is_empty() {
        f(&partial);
    }
    Ok(())
}

/// One line of folded text (without its `\n`) as every reader here takes it: a trailing
/// `\r` dropped, the rest sanitized into `buffer` (before parsing, as [`decode`] does, so a
/// control byte next to the count makes the line malformed rather than being trimmed
/// away), then split by [`parse_line`]. `None` for an empty or malformed line.
pub fn clean_line<'b>(line: &[u8], buffer: &'b mut Vec<u8>) -> Option<(&'b [u8], u64)> {
    let line = match line {
        [head @ .., b'\r'] => head,
        line => line,
    };
    if line.is_empty() {
        return None;
    }
    buffer.clear();
    buffer.extend_from_slice(line);
    sanitize_in_place(buffer);
    parse_line(buffer)
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
        Self::with_level(text_bytes, compress::LEVEL)
    }

    /// A writer compressing at gzip `level` (0-9).
    pub fn with_level(text_bytes: usize, level: u32) -> Self {
        FoldedWriter {
            encoder: compress::gzip_writer_at(text_bytes / 8 + 64, level),
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

    fn chunks_of(input: &[u8], chunk: usize, skip: u64) -> io::Result<Vec<Vec<u8>>> {
        let mut chunks = Vec::new();
        decode_chunks(input, chunk, skip, |c| {
            chunks.push(c);
            true
        })?;
        Ok(chunks)
    }

    #[test]
    fn decoded_chunks_are_whole_sanitized_lines_that_add_up_to_the_log() {
        let text: Vec<u8> = (0..5_000)
            .flat_map(|i| format!("a;b{i};c\u{e9} {}\n", i % 7 + 1).into_bytes())
            .collect();
        let expected = decode(&text).unwrap();
        let mut two_members = compress::gzip(&text[..text.len() / 3]);
        two_members.extend(compress::gzip(&text[text.len() / 3..]));
        for input in [&text[..], &two_members[..]] {
            for chunk in [1, 100, 4096, 1 << 20] {
                let chunks = chunks_of(input, chunk, 0).unwrap();
                assert_eq!(chunks.concat(), expected, "chunk {chunk}");
                assert!(chunks.iter().all(|c| c.ends_with(b"\n")), "chunk {chunk}");
                if chunk >= 100 {
                    assert!(chunks.iter().all(|c| c.len() <= chunk), "chunk {chunk}");
                }
            }
        }
        // A last line without its line end is a chunk too.
        assert_eq!(
            chunks_of(b"a 1\nb 2", 3, 0).unwrap(),
            [b"a 1\n".to_vec(), b"b 2".to_vec()]
        );
    }

    #[test]
    fn decoding_resumes_after_the_text_already_taken_and_stops_when_asked() {
        let text: Vec<u8> = (0..2_000)
            .flat_map(|i| format!("x;y{i} 1\n").into_bytes())
            .collect();
        let gz = compress::gzip(&text);
        let mut taken = Vec::new();
        decode_chunks(&gz[..], 1000, 0, |c| {
            taken.extend(c);
            taken.len() < 5000
        })
        .unwrap();
        assert!(taken.len() >= 5000 && taken.len() < text.len());
        let rest = chunks_of(&gz[..], 1000, taken.len() as u64)
            .unwrap()
            .concat();
        assert_eq!([taken, rest].concat(), text);
        let error = chunks_of(&gz[..], 1000, text.len() as u64 + 1).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        // A damaged log is an error after the chunks before the damage.
        let mut seen = 0;
        let damaged = decode_chunks(&gz[..gz.len() / 2], 1000, 0, |c| {
            seen += c.len();
            true
        });
        assert!(damaged.is_err());
        assert!(seen > 0);
    }

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
    fn stack_counter_reads_like_decode_and_aggregate() {
        let input = b"b;c 1\na\x1b;\xffb 2\r\nnocount\n\r\nb;c 3\nx\t 1\ne 0\nB 1\nb;c 1";
        let text = decode(input).unwrap();
        let expected = aggregate(&text);
        // A one-byte buffer splits every line across reads.
        for capacity in [1, 3, 8192] {
            let mut counter = StackCounter::new();
            counter
                .read_lines(std::io::BufReader::with_capacity(capacity, &input[..]))
                .unwrap();
            let counted = counter.finish();
            assert_eq!(counted.stacks(), expected.stacks, "capacity {capacity}");
            assert_eq!(counted.malformed_lines, expected.malformed_lines);
            let lines = counted.lines();
            assert_eq!(lines.as_slice(), ["B 1", "a?;?b 2", "b;c 5", "x? 1"]);
            assert_eq!(lines.stacks(), expected.stacks);
        }
    }

    #[test]
    fn sorted_lines_keep_their_order_when_filtered() {
        let mut counter = StackCounter::new();
        for line in ["c;x 1", "a;x 2", "b;y 3", "a;x 18446744073709551615"] {
            counter.push_line(line.as_bytes());
        }
        let counted = counter.finish();
        let mut lines = counted.lines();
        assert_eq!(
            lines.as_slice(),
            ["a;x 18446744073709551615", "b;y 3", "c;x 1"]
        );
        lines.retain_stacks(|stack| stack.ends_with(b"x"));
        assert_eq!(lines.as_slice(), ["a;x 18446744073709551615", "c;x 1"]);
        assert!(StackCounter::new().finish().is_empty());
    }
}
