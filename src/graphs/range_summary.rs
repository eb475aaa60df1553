//! Range summaries: a window's forward and reversed frame trees, pruned at a cutoff much
//! finer than any graph draws, kept beside its log so that range graphs merge these (a few
//! MB) instead of decompressing and merging whole logs (GBs for a busy day).
//!
//! ```text
//! logs/{period}/{window}.{channel}.{entry}.range.gz   (path: crate::store::catalogue::range_summary_path)
//!
//! version 2 (written):
//! arclamp-range-summary 2 samples=N cutoff=C log_bytes=B forward=F reversed=R forward_bytes=FB reversed_bytes=RB
//! FB bytes: the forward tree's `STACK COUNT` lines as a packed trace (crate::store::packed)
//! RB bytes: the reversed tree's (leaf frame first), as a packed trace
//!
//! version 1 (read; gzip'd):
//! arclamp-range-summary 1 samples=N cutoff=C log_bytes=B forward=F reversed=R
//! SHARED COUNT REST    F lines: the forward tree's `STACK COUNT` lines, sorted bytewise
//! SHARED COUNT REST    R lines: the reversed tree's (leaf frame first), sorted bytewise
//! ```
//!
//! In memory a tree is front-coded lines: a stack is the first SHARED frames of the line
//! before it, then REST (the remaining frames, `;`-separated). Sorted stacks share long
//! prefixes, so a reader building a tree ([`crate::graphs::range`]) touches only the frames
//! that change. Version 2 stores the same trees packed: about 5 to 9 times smaller than
//! version 1's gzip'd lines (BENCHMARKS.md, issue 16).
//!
//! Both trees come from [`crate::graphs::render::tree::PrunedTree`] with [`cutoff`]: every frame of
//! at least `cutoff` samples is exact; a narrower subtree is one line with its samples, named
//! after its first frame. `log_bytes` is the size of the log it was made from, so a summary
//! older than its log is noticed and not used.
//!
//! **Error bound.** In a graph merged from summaries, a frame's width differs from the exact
//! one by less than the sum of the windows' cutoffs, which is [`RESOLUTION`] of the range's
//! samples: a twentieth of the narrowest frame a graph draws at the `min_width` the
//! summaries were written for (0.005 pixels at the default 0.1). Positions, depths and names
//! of the frames drawn are otherwise those of the exact graph.

use std::io::Write;

use crate::graphs::render::tree::PrunedLines;
use crate::store::{compress, packed};

/// Fraction of the narrowest drawn frame that a window's summary may drop: a window's
/// cutoff is `RESOLUTION x min_width` of its samples (min_width as a fraction of the width).
pub const RESOLUTION: f64 = 1.0 / 20.0;

const MAGIC: &str = "arclamp-range-summary 1";
const MAGIC_V2: &str = "arclamp-range-summary 2";

/// The cutoff of a window of `samples` samples, for graphs drawn with `min_width_pct`
/// (percent of the width).
pub fn cutoff(samples: u64, min_width_pct: f64) -> f64 {
    samples as f64 * min_width_pct / 100.0 * RESOLUTION
}

/// A summary could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    /// Not gzip.
    #[error(transparent)]
    Gunzip(#[from] compress::GunzipError),
    /// Not a range summary of this version.
    #[error("not an arclamp range summary (version 1): {0}")]
    Format(String),
}

/// A decoded range summary.
#[derive(Debug, Clone)]
pub struct RangeSummary {
    /// Samples in the window.
    pub samples: u64,
    /// The cutoff its trees were pruned at.
    pub cutoff: f64,
    /// Size of the log it was made from.
    pub log_bytes: u64,
    text: Vec<u8>,
    forward_decoded: bool,
    reversed_decoded: bool,
    forward: std::ops::Range<usize>,
    reversed: std::ops::Range<usize>,
}

impl RangeSummary {
    /// The summary (version 2) of a window of `log_bytes` (its log's size), pruned at
    /// `cutoff`.
    pub fn encode(
        log_bytes: u64,
        cutoff: f64,
        forward: &PrunedLines,
        reversed: &PrunedLines,
    ) -> Vec<u8> {
        let pack = |tree: &PrunedLines| {
            packed::encode(tree.lines().filter_map(|line| {
                let (stack, count) = line.rsplit_once(' ')?;
                Some((stack.as_bytes(), count.parse().ok()?))
            }))
        };
        let (forward_packed, reversed_packed) = (pack(forward), pack(reversed));
        let mut out = format!(
            "{MAGIC_V2} samples={} cutoff={cutoff} log_bytes={log_bytes} forward={} reversed={} \
             forward_bytes={} reversed_bytes={}\n",
            forward.samples,
            forward.lines,
            reversed.lines,
            forward_packed.len(),
            reversed_packed.len()
        )
        .into_bytes();
        out.extend_from_slice(&forward_packed);
        out.extend_from_slice(&reversed_packed);
        out
    }

    /// The gzip'd version 1 summary (what releases before version 2 wrote): kept to test
    /// that stores written by them read as they are.
    #[cfg(test)]
    pub fn encode_v1(
        log_bytes: u64,
        cutoff: f64,
        forward: &PrunedLines,
        reversed: &PrunedLines,
    ) -> Vec<u8> {
        let mut out = compress::gzip_writer((forward.text.len() + reversed.text.len()) / 8 + 64);
        let header = format!(
            "{MAGIC} samples={} cutoff={cutoff} log_bytes={log_bytes} forward={} reversed={}\n",
            forward.samples, forward.lines, reversed.lines
        );
        // Writing into a Vec cannot fail.
        let _ = out.write_all(header.as_bytes());
        for tree in [forward, reversed] {
            let mut previous: &[u8] = &[];
            for line in tree.lines() {
                let Some((stack, count)) = line.rsplit_once(' ') else {
                    continue;
                };
                let stack = stack.as_bytes();
                let shared = shared_frames(previous, stack);
                let rest = rest_after(stack, shared);
                let _ = write!(out, "{shared} {count} ");
                let _ = out.write_all(rest);
                let _ = out.write_all(b"\n");
                previous = stack;
            }
        }
        out.finish().unwrap_or_default()
    }

    /// Read a stored summary, both trees.
    pub fn decode(bytes: &[u8]) -> Result<RangeSummary, SummaryError> {
        Self::decode_trees(bytes, true, true)
    }

    /// Read one tree of a stored summary: the forward one, or when `reversed` the reversed
    /// one; [`Self::entries`] of the other yields nothing ([`Self::has_tree`]). A forward
    /// tree is read without decompressing the reversed one after it.
    pub fn decode_tree(bytes: &[u8], reversed: bool) -> Result<RangeSummary, SummaryError> {
        Self::decode_trees(bytes, !reversed, reversed)
    }

    fn decode_trees(
        bytes: &[u8],
        want_forward: bool,
        want_reversed: bool,
    ) -> Result<RangeSummary, SummaryError> {
        if bytes.starts_with(MAGIC_V2.as_bytes()) {
            return Self::decode_v2(bytes, want_forward, want_reversed);
        }
        let bad = |what: &str| SummaryError::Format(what.to_owned());
        let mut inflater = Inflater::new(bytes);
        inflater.fill_lines(1)?;
        let header_end =
            memchr::memchr(b'\n', &inflater.text).ok_or_else(|| bad("no header line"))?;
        let header = SummaryHeader::parse(&inflater.text[..header_end])?;
        if want_reversed {
            inflater.fill_all()?;
        } else {
            inflater.fill_lines(header.forward_lines.saturating_add(1))?;
        }
        let text = inflater.text;
        let body = header_end + 1;
        let forward_end =
            nth_line_end(&text, body, header.forward_lines).ok_or_else(|| bad("truncated"))?;
        let mut reversed = forward_end..forward_end;
        if want_reversed {
            let reversed_end = nth_line_end(&text, forward_end, header.reversed_lines)
                .ok_or_else(|| bad("truncated"))?;
            if reversed_end != text.len() {
                return Err(bad("more lines than the header says"));
            }
            reversed = forward_end..reversed_end;
        }
        let forward = if want_forward {
            body..forward_end
        } else {
            body..body
        };
        let parses = |range: std::ops::Range<usize>| {
            std::str::from_utf8(&text[range.clone()]).is_ok()
                && crate::ingest::sample::lines(&text[range])
                    .all(|line| parse_entry(line).is_some())
        };
        if !parses(forward.clone()) || !parses(reversed.clone()) {
            return Err(bad("a line is not SHARED COUNT REST in UTF-8"));
        }
        Ok(RangeSummary::of(
            &header,
            [want_forward, want_reversed],
            forward,
            reversed,
            text,
        ))
    }

    /// A decoded summary: `header`'s numbers, the trees decoded (`[forward, reversed]`)
    /// and where their front-coded lines are in `text`.
    fn of(
        header: &SummaryHeader,
        [forward_decoded, reversed_decoded]: [bool; 2],
        forward: std::ops::Range<usize>,
        reversed: std::ops::Range<usize>,
        text: Vec<u8>,
    ) -> RangeSummary {
        RangeSummary {
            samples: header.samples,
            cutoff: header.cutoff,
            log_bytes: header.log_bytes,
            forward_decoded,
            reversed_decoded,
            forward,
            reversed,
            text,
        }
    }

    /// Version 2: the header, then each wanted tree unpacked into front-coded lines.
    fn decode_v2(
        bytes: &[u8],
        want_forward: bool,
        want_reversed: bool,
    ) -> Result<RangeSummary, SummaryError> {
        let bad = |what: &str| SummaryError::Format(what.to_owned());
        let header_end = memchr::memchr(b'\n', bytes).ok_or_else(|| bad("no header line"))?;
        let header = SummaryHeader::parse(&bytes[..header_end])?;
        let body = &bytes[header_end + 1..];
        let (Some(forward_bytes), Some(reversed_bytes)) =
            (header.forward_bytes, header.reversed_bytes)
        else {
            return Err(bad("version 2 without the sizes of its trees"));
        };
        let too_long = || bad("truncated");
        let forward_end = usize::try_from(forward_bytes).map_err(|_| too_long())?;
        let reversed_end = forward_end
            .checked_add(usize::try_from(reversed_bytes).map_err(|_| too_long())?)
            .ok_or_else(too_long)?;
        if reversed_end != body.len() {
            return Err(bad("the trees' sizes do not add up to the summary's"));
        }
        let mut text = Vec::new();
        let mut unpack =
            |packed_tree: &[u8], lines: usize| -> Result<std::ops::Range<usize>, SummaryError> {
                let start = text.len();
                let mut written = 0usize;
                let damaged = |e: packed::PackedError| SummaryError::Format(e.to_string());
                let mut reader = packed::StackReader::open(packed_tree).map_err(damaged)?;
                let mut number = itoa::Buffer::new();
                while let Some(packed::FrontCoded {
                    shared,
                    rest,
                    count,
                }) = reader.next_front_coded().map_err(damaged)?
                {
                    text.extend_from_slice(number.format(shared).as_bytes());
                    text.push(b' ');
                    text.extend_from_slice(number.format(count).as_bytes());
                    text.push(b' ');
                    text.extend_from_slice(rest);
                    text.push(b'\n');
                    written += 1;
                }
                if written != lines {
                    return Err(bad("more or fewer lines than the header says"));
                }
                Ok(start..text.len())
            };
        let forward = if want_forward {
            unpack(&body[..forward_end], header.forward_lines)?
        } else {
            0..0
        };
        let reversed = if want_reversed {
            unpack(&body[forward_end..], header.reversed_lines)?
        } else {
            forward.end..forward.end
        };
        if std::str::from_utf8(&text).is_err() {
            return Err(bad("a stack is not UTF-8"));
        }
        Ok(RangeSummary::of(
            &header,
            [want_forward, want_reversed],
            forward,
            reversed,
            text,
        ))
    }

    /// True when the forward tree, or when `reversed` the reversed tree, was decoded.
    pub fn has_tree(&self, reversed: bool) -> bool {
        if reversed {
            self.reversed_decoded
        } else {
            self.forward_decoded
        }
    }

    /// The front-coded lines of the forward tree, or of the reversed one (stacks leaf
    /// first), in order: (frames shared with the line before, count, the other frames).
    /// A line that does not parse ends the iteration early; [`Self::decode`] checked them.
    pub fn entries(&self, reversed: bool) -> impl Iterator<Item = (usize, u64, &[u8])> {
        let range = if reversed {
            self.reversed.clone()
        } else {
            self.forward.clone()
        };
        crate::ingest::sample::lines(&self.text[range]).map_while(parse_entry)
    }

    /// Call `f` with every `STACK COUNT` line of the forward tree, or of the reversed one,
    /// sorted bytewise, each rebuilt in one buffer.
    pub fn for_each_line(&self, reversed: bool, mut f: impl FnMut(&[u8])) {
        let mut line: Vec<u8> = Vec::new();
        // End of each frame of the current stack in `line`.
        let mut ends: Vec<usize> = Vec::new();
        for (shared, count, rest) in self.entries(reversed) {
            ends.truncate(shared.min(ends.len()));
            line.truncate(ends.last().copied().unwrap_or(0));
            if !ends.is_empty() {
                line.push(b';');
            }
            let start = line.len();
            line.extend_from_slice(rest);
            ends.extend(
                memchr::memchr_iter(b';', rest)
                    .map(|at| start + at)
                    .chain(std::iter::once(line.len())),
            );
            let stack_len = line.len();
            // Writing into a Vec cannot fail.
            let _ = write!(line, " {count}");
            f(&line);
            line.truncate(stack_len);
        }
    }

    /// True when this summary is fine enough for graphs drawn at `min_width_pct`: its
    /// cutoff is at most [`RESOLUTION`] of the narrowest frame drawn.
    pub fn fine_enough_for(&self, min_width_pct: f64) -> bool {
        fine_enough(self.samples, self.cutoff, min_width_pct)
    }

    /// True when this summary may be read instead of its log: made from the log as it is
    /// now (`log_size` bytes) and fine enough for graphs drawn at `min_width_pct`.
    pub fn stands_for(&self, log_size: u64, min_width_pct: f64) -> bool {
        self.log_bytes == log_size && self.fine_enough_for(min_width_pct)
    }
}

/// The first line of a summary: what it was made from and how its trees were pruned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SummaryHeader {
    /// Samples in the window.
    pub samples: u64,
    /// The cutoff its trees were pruned at.
    pub cutoff: f64,
    /// Size of the log it was made from.
    pub log_bytes: u64,
    /// Lines of the forward tree.
    pub forward_lines: usize,
    /// Lines of the reversed tree.
    pub reversed_lines: usize,
    /// Version 2: bytes of the forward tree's packed trace.
    pub forward_bytes: Option<u64>,
    /// Version 2: bytes of the reversed tree's packed trace.
    pub reversed_bytes: Option<u64>,
}

impl SummaryHeader {
    fn parse(line: &[u8]) -> Result<SummaryHeader, SummaryError> {
        let bad = |what: &str| SummaryError::Format(what.to_owned());
        let header = std::str::from_utf8(line).map_err(|_| bad("header is not text"))?;
        let fields = header
            .strip_prefix(MAGIC_V2)
            .or_else(|| header.strip_prefix(MAGIC))
            .ok_or_else(|| bad("unknown header"))?;
        let mut forward_bytes = None;
        let mut reversed_bytes = None;
        let mut samples = None;
        let mut cutoff = None;
        let mut log_bytes = None;
        let mut forward = None;
        let mut reversed = None;
        for field in fields.split_ascii_whitespace() {
            let (name, value) = field.split_once('=').ok_or_else(|| bad(field))?;
            match name {
                "samples" => samples = value.parse::<u64>().ok(),
                "cutoff" => cutoff = value.parse::<f64>().ok(),
                "log_bytes" => log_bytes = value.parse::<u64>().ok(),
                "forward" => forward = value.parse::<usize>().ok(),
                "reversed" => reversed = value.parse::<usize>().ok(),
                "forward_bytes" => forward_bytes = value.parse::<u64>().ok(),
                "reversed_bytes" => reversed_bytes = value.parse::<u64>().ok(),
                _ => {}
            }
        }
        let (
            Some(samples),
            Some(cutoff),
            Some(log_bytes),
            Some(forward_lines),
            Some(reversed_lines),
        ) = (samples, cutoff, log_bytes, forward, reversed)
        else {
            return Err(bad(header));
        };
        Ok(SummaryHeader {
            samples,
            cutoff,
            log_bytes,
            forward_lines,
            reversed_lines,
            forward_bytes,
            reversed_bytes,
        })
    }

    /// True when the summary is fine enough for graphs drawn at `min_width_pct`, as
    /// [`RangeSummary::fine_enough_for`].
    pub fn fine_enough_for(&self, min_width_pct: f64) -> bool {
        fine_enough(self.samples, self.cutoff, min_width_pct)
    }
}

fn fine_enough(samples: u64, summary_cutoff: f64, min_width_pct: f64) -> bool {
    // A little slack for the decimal round trip of the cutoff.
    summary_cutoff <= cutoff(samples, min_width_pct) * (1.0 + 1e-9)
}

/// Decompresses a summary as far as it is needed: the header alone, or one tree (the
/// forward one comes first), or all of it.
struct Inflater<'a> {
    decoder: Option<flate2::read::MultiGzDecoder<&'a [u8]>>,
    text: Vec<u8>,
    /// Newlines in `text`.
    newlines: usize,
    /// What one read decompresses into before it is appended to `text`.
    chunk: Vec<u8>,
}

impl<'a> Inflater<'a> {
    /// Bytes decompressed per read.
    const CHUNK: usize = 1 << 18;

    fn new(bytes: &'a [u8]) -> Inflater<'a> {
        if !compress::is_gzip(bytes) {
            return Inflater {
                decoder: None,
                newlines: bytecount::count(bytes, b'\n'),
                text: bytes.to_vec(),
                chunk: Vec::new(),
            };
        }
        // gzip's trailer holds the decompressed size (mod 2^32) of its last member: the
        // whole text for a summary written in one piece. Trusted only as far as a plausible
        // compression ratio, since the input may be damaged.
        let trailer = bytes.len().checked_sub(4).map_or(0, |at| {
            let size = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
            size as usize
        });
        Inflater {
            decoder: Some(flate2::read::MultiGzDecoder::new(bytes)),
            text: Vec::with_capacity(trailer.min(bytes.len().saturating_mul(32))),
            newlines: 0,
            chunk: Vec::new(),
        }
    }

    /// Decompress on until `text` holds at least `lines` lines or the input ends.
    fn fill_lines(&mut self, lines: usize) -> Result<(), SummaryError> {
        while self.newlines < lines {
            if !self.read_chunk()? {
                break;
            }
        }
        Ok(())
    }

    /// Decompress everything.
    fn fill_all(&mut self) -> Result<(), SummaryError> {
        while self.read_chunk()? {}
        Ok(())
    }

    /// One read into `text`; false at the end of the input.
    fn read_chunk(&mut self) -> Result<bool, SummaryError> {
        use std::io::Read;
        let Some(decoder) = &mut self.decoder else {
            return Ok(false);
        };
        if self.chunk.is_empty() {
            self.chunk = vec![0; Self::CHUNK];
        }
        let read = loop {
            match decoder.read(&mut self.chunk) {
                Ok(read) => break read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(compress::GunzipError::from(error).into()),
            }
        };
        let start = self.text.len();
        self.text.extend_from_slice(&self.chunk[..read]);
        self.newlines += bytecount::count(&self.text[start..], b'\n');
        Ok(read > 0)
    }
}

/// Decode one tree of each summary in `summaries` ([`RangeSummary::decode_tree`]), on as
/// many threads as there are cores: decompressing is most of what a range graph costs, and
/// summaries decompress independently. Results are in the order of `summaries`.
pub fn decode_trees<B: AsRef<[u8]> + Sync>(
    summaries: &[B],
    reversed: bool,
) -> Vec<Result<RangeSummary, SummaryError>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(summaries.len());
    if threads <= 1 {
        return summaries
            .iter()
            .map(|bytes| RangeSummary::decode_tree(bytes.as_ref(), reversed))
            .collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut decoded: Vec<(usize, Result<RangeSummary, SummaryError>)> =
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(bytes) = summaries.get(index) else {
                                return done;
                            };
                            done.push((index, RangeSummary::decode_tree(bytes.as_ref(), reversed)));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| {
                    // Decoding never panics on input (errors are returned); should a worker
                    // die anyway, its summaries are decoded again below, on this thread.
                    worker.join().unwrap_or_default()
                })
                .collect()
        });
    decoded.sort_by_key(|(index, _)| *index);
    let mut results = Vec::with_capacity(summaries.len());
    let mut decoded = decoded.into_iter().peekable();
    for (index, bytes) in summaries.iter().enumerate() {
        match decoded.next_if(|(at, _)| *at == index) {
            Some((_, result)) => results.push(result),
            None => results.push(RangeSummary::decode_tree(bytes.as_ref(), reversed)),
        }
    }
    results
}

/// How many leading frames `stack` shares with `previous`; always fewer than all of
/// `stack`'s, so that something is left to write.
pub(crate) fn shared_frames(previous: &[u8], stack: &[u8]) -> usize {
    let common = previous
        .iter()
        .zip(stack)
        .position(|(a, b)| a != b)
        .unwrap_or(previous.len().min(stack.len()));
    let mut shared = memchr::memchr_iter(b';', &stack[..common]).count();
    // The frame ending at `common` is shared when it ends there in both stacks.
    let ends_here = |text: &[u8]| common == text.len() || text[common] == b';';
    if common > 0 && ends_here(stack) && ends_here(previous) {
        shared += 1;
    }
    let frames = memchr::memchr_iter(b';', stack).count() + 1;
    shared.min(frames - 1)
}

/// `stack` after its first `shared` frames (and their separators).
pub(crate) fn rest_after(stack: &[u8], shared: usize) -> &[u8] {
    if shared == 0 {
        return stack;
    }
    memchr::memchr_iter(b';', stack)
        .nth(shared - 1)
        .map_or(&[][..], |at| &stack[at + 1..])
}

/// One front-coded line: `SHARED COUNT REST`.
fn parse_entry(line: &[u8]) -> Option<(usize, u64, &[u8])> {
    let first = memchr::memchr(b' ', line)?;
    let second = first + 1 + memchr::memchr(b' ', &line[first + 1..])?;
    let number = |bytes: &[u8]| std::str::from_utf8(bytes).ok()?.parse::<u64>().ok();
    let shared = usize::try_from(number(&line[..first])?).ok()?;
    let count = number(&line[first + 1..second])?;
    Some((shared, count, &line[second + 1..]))
}

/// The end of `lines` lines of `text` from `start` (after their last `\n`).
fn nth_line_end(text: &[u8], start: usize, lines: usize) -> Option<usize> {
    let mut end = start;
    for _ in 0..lines {
        end += memchr::memchr(b'\n', text.get(end..)?)? + 1;
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphs::render::tree::PrunedTree;

    fn pruned(lines: &[(&str, u64)], cutoff: f64) -> PrunedLines {
        let mut tree = PrunedTree::new(cutoff);
        for (stack, count) in lines {
            tree.push(stack, *count).unwrap();
        }
        tree.finish()
    }

    #[test]
    fn summaries_round_trip_both_trees() {
        let forward = pruned(&[("a;b", 5), ("a;c", 1), ("d", 4)], 2.0);
        let reversed = pruned(&[("b;a", 5), ("c;a", 1), ("d", 4)], 2.0);
        let bytes = RangeSummary::encode(1234, 2.0, &forward, &reversed);
        let summary = RangeSummary::decode(&bytes).unwrap();
        assert_eq!(summary.samples, 10);
        assert_eq!(summary.cutoff, 2.0);
        assert_eq!(summary.log_bytes, 1234);
        let lines = |reversed| {
            let mut lines = Vec::new();
            summary.for_each_line(reversed, |l| {
                lines.push(String::from_utf8(l.to_vec()).unwrap())
            });
            lines
        };
        assert_eq!(lines(false), ["a;b 5", "a;c 1", "d 4"]);
        // `c;a` (1 sample) is narrower than the cutoff: one line for frame `c`.
        assert_eq!(lines(true), ["b;a 5", "c 1", "d 4"]);
        let entries: Vec<(usize, u64, &[u8])> = summary.entries(false).collect();
        assert_eq!(entries, [(0, 5, &b"a;b"[..]), (1, 1, b"c"), (0, 4, b"d")]);
    }

    #[test]
    fn front_coding_round_trips_awkward_stacks() {
        // Empty frames, a frame that is a prefix of its neighbour, blanks, one frame.
        let stacks = [
            ("a", 1),
            ("a;", 2),
            ("a;;b", 3),
            ("a;b", 4),
            ("a;b0", 5),
            ("a;b;c", 6),
            ("a;b;c d", 7),
            ("a;bc", 8),
            ("b", 9),
        ];
        let lines = pruned(&stacks, 0.0);
        let bytes = RangeSummary::encode(1, 0.0, &lines, &lines);
        let summary = RangeSummary::decode(&bytes).unwrap();
        let mut got = Vec::new();
        summary.for_each_line(false, |l| got.push(String::from_utf8(l.to_vec()).unwrap()));
        let expected: Vec<String> = stacks.iter().map(|(s, c)| format!("{s} {c}")).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn one_tree_decodes_alone_and_in_parallel_in_order() {
        let summaries: Vec<Vec<u8>> = (1..=5u64)
            .map(|n| {
                let forward = pruned(&[("a;b", n), ("c", 1)], 0.0);
                let reversed = pruned(&[("b;a", n), ("c", 1)], 0.0);
                RangeSummary::encode(n, 0.0, &forward, &reversed)
            })
            .collect();
        let lines = |summary: &RangeSummary, reversed| {
            let mut lines = Vec::new();
            summary.for_each_line(reversed, |l| {
                lines.push(String::from_utf8(l.to_vec()).unwrap())
            });
            lines
        };
        let mut inputs = summaries.clone();
        inputs[2] = b"damaged".to_vec();
        for reversed in [false, true] {
            let decoded = decode_trees(&inputs, reversed);
            assert_eq!(decoded.len(), 5);
            for (n, result) in (1..=5u64).zip(&decoded) {
                if n == 3 {
                    assert!(result.is_err());
                    continue;
                }
                let summary = result.as_ref().unwrap();
                assert_eq!(summary.log_bytes, n);
                assert_eq!(summary.samples, n + 1);
                assert!(summary.has_tree(reversed) && !summary.has_tree(!reversed));
                let stack = if reversed { "b;a" } else { "a;b" };
                assert_eq!(
                    lines(summary, reversed),
                    [format!("{stack} {n}"), "c 1".into()]
                );
                assert!(lines(summary, !reversed).is_empty());
                let both = RangeSummary::decode(&summaries[n as usize - 1]).unwrap();
                assert_eq!(lines(&both, reversed), lines(summary, reversed));
            }
        }
    }

    #[test]
    fn damaged_or_foreign_summaries_are_refused() {
        let forward = pruned(&[("a", 1)], 0.5);
        let good = compress::maybe_gunzip(&RangeSummary::encode(1, 0.5, &forward, &forward))
            .unwrap()
            .into_owned();
        let truncated = &good[..good.len() - 2];
        let unparsable = b"arclamp-range-summary 1 samples=1 cutoff=0 log_bytes=1 forward=1 \
                           reversed=0\nnot front-coded\n";
        for bad in [
            &b"a;b 1\n"[..],
            b"",
            truncated,
            b"arclamp-range-summary 1 samples=x\n",
            unparsable,
        ] {
            assert!(
                RangeSummary::decode(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(RangeSummary::decode(&good).is_ok());
        // A header claiming more lines than a number can hold (forward tree only: the
        // reader asks for the header line plus that many).
        let huge = b"arclamp-range-summary 1 samples=1 cutoff=0 log_bytes=1 \
                     forward=18446744073709551615 reversed=0\n";
        assert!(RangeSummary::decode_tree(huge, false).is_err());
    }

    #[test]
    fn version_1_summaries_of_earlier_releases_read_as_version_2_ones_do() {
        let forward = pruned(&[("a;b", 5), ("a;b;c", 2), ("a;bc", 1), ("d", 4)], 0.0);
        let reversed = pruned(&[("b;a", 5), ("bc;a", 1), ("c;b;a", 2), ("d", 4)], 0.0);
        let v1 = RangeSummary::encode_v1(77, 0.0, &forward, &reversed);
        let v2 = RangeSummary::encode(77, 0.0, &forward, &reversed);
        assert!(compress::is_gzip(&v1) && v2.starts_with(MAGIC_V2.as_bytes()));
        let (old, new) = (
            RangeSummary::decode(&v1).unwrap(),
            RangeSummary::decode(&v2).unwrap(),
        );
        for reversed in [false, true] {
            let entries = |s: &RangeSummary| -> Vec<(usize, u64, Vec<u8>)> {
                s.entries(reversed)
                    .map(|(a, b, c)| (a, b, c.to_vec()))
                    .collect()
            };
            assert_eq!(entries(&old), entries(&new));
            assert_eq!(entries(&new).len(), 4);
        }
        assert_eq!((old.samples, old.log_bytes), (new.samples, new.log_bytes));
        // One tree alone from version 2, and damage refused.
        let one = RangeSummary::decode_tree(&v2, true).unwrap();
        assert!(one.has_tree(true) && !one.has_tree(false));
        assert!(RangeSummary::decode(&v2[..v2.len() - 1]).is_err());
        let mut flipped = v2.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x40;
        assert!(RangeSummary::decode(&flipped).is_err());
    }

    #[test]
    fn a_summary_is_fine_enough_only_for_widths_it_was_written_for() {
        let forward = pruned(&[("a", 1_000_000)], 0.0);
        let pct = 0.1 * 100.0 / 1180.0;
        let bytes = RangeSummary::encode(1, cutoff(1_000_000, pct), &forward, &forward);
        let summary = RangeSummary::decode(&bytes).unwrap();
        assert!(summary.fine_enough_for(pct));
        assert!(summary.fine_enough_for(pct * 2.0));
        assert!(!summary.fine_enough_for(pct / 2.0));
    }
}
