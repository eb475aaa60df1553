//! The packed trace format (version 1): a window's stacks and counts, stored once, about
//! eight times smaller than the same stacks as gzip'd folded text. `docs/packed-format.md`
//! describes it byte by byte.
//!
//! A stack is a list of frames (split at `;`). Stacks are kept in the byte order of their
//! text, the order of an Arc Lamp folded log, and each one is **front-coded** against the
//! previous one: how many leading frames it shares with it, then its other frames as ids
//! into a dictionary of frame names. Four columns (shared, added, frame ids, counts) of
//! LEB128 varints follow the dictionary, and the whole body is compressed with zstd
//! (with its content checksum, so a damaged object is detected, not misread). MediaWiki's
//! stacks are deep and share long prefixes, so most of a stack is one small number.
//!
//! Decoding walks the stacks in that same order, so a folded log streams out of it
//! without sorting. Pure functions over bytes: no I/O, no actors.

use std::io::Read;

/// The first bytes of every packed trace.
pub const MAGIC: &[u8; 4] = b"ALPK";
/// The format version this code writes (and the only one it reads).
pub const VERSION: u8 = 1;
/// zstd's level for traces that are stored: 19 is about 20 % smaller than 3 and encodes a
/// busy day in seconds, once.
const LEVEL: i32 = 12;
/// zstd's level for traces made to be read once and never stored (an entry point's log
/// derived from `all` on read): encoding at [`LEVEL`] would cost more than it saves.
pub const TRANSIENT_LEVEL: i32 = 1;
/// The largest body a reader decompresses (a day of 35 samples/s is about 30 MB): more
/// means a damaged or hostile object, refused before it takes the memory.
pub const MAX_BODY: u64 = 8 << 30;

/// Why a packed trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PackedError {
    /// Not a packed trace at all.
    #[error("not a packed trace (it does not start with \"ALPK\")")]
    NotPacked,
    /// Written by a newer arclamp.
    #[error(
        "packed trace version {0}, but this arclamp reads version {VERSION} only: upgrade arclamp"
    )]
    UnknownVersion(u8),
    /// The compressed body is damaged or truncated.
    #[error("damaged packed trace: {0}")]
    Damaged(String),
}

fn damaged(what: impl Into<String>) -> PackedError {
    PackedError::Damaged(what.into())
}

/// Encode `stacks` (folded stack text, count). They may come in any order; a stack given
/// twice has its counts summed; counts of 0 are dropped.
pub fn encode<'a>(stacks: impl IntoIterator<Item = (&'a [u8], u64)>) -> Vec<u8> {
    let mut sorted: Vec<(&[u8], u64)> = stacks.into_iter().collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut sorted = sorted.into_iter().peekable();
    let mut writer = Writer::new();
    while let Some((stack, mut count)) = sorted.next() {
        while let Some((_, more)) = sorted.next_if(|(next, _)| *next == stack) {
            count = count.saturating_add(more);
        }
        // The writer drops a count of 0.
        writer.push(stack, count);
    }
    writer.finish()
}

/// Writes a packed trace from stacks given one at a time **in folded-log order** (sorted by
/// their text, each once), as the store's encoders produce them: nothing is sorted or held
/// but the columns, which are a few bytes a stack. The same interface as
/// [`crate::store::folded::FoldedWriter`].
#[derive(Debug, Default)]
pub struct Writer {
    /// Frame name to id (foldhash: a day is millions of lookups of short names).
    ids: std::collections::HashMap<Vec<u8>, u64, foldhash::fast::RandomState>,
    /// The dictionary as it will be written: each name's length and bytes.
    dictionary: Vec<u8>,
    frames: u64,
    previous: Vec<u64>,
    current: Vec<u64>,
    shared: Vec<u8>,
    added: Vec<u8>,
    frame_ids: Vec<u8>,
    counts: Vec<u8>,
    stacks: u64,
    total: u64,
}

impl Writer {
    /// A trace with no stack yet.
    pub fn new() -> Writer {
        Writer::default()
    }

    /// Add the stack made of `frames` (root first) with `count` samples; a count of 0 adds
    /// nothing.
    pub fn push_frames<'f>(&mut self, frames: impl IntoIterator<Item = &'f [u8]>, count: u64) {
        if count == 0 {
            return;
        }
        self.current.clear();
        for frame in frames {
            let id = match self.ids.get(frame) {
                Some(&id) => id,
                None => {
                    let id = self.frames;
                    self.frames += 1;
                    self.ids.insert(frame.to_vec(), id);
                    put(&mut self.dictionary, frame.len() as u64);
                    self.dictionary.extend_from_slice(frame);
                    id
                }
            };
            self.current.push(id);
        }
        let shared = self
            .current
            .iter()
            .zip(&self.previous)
            .take_while(|(a, b)| a == b)
            .count();
        put(&mut self.shared, shared as u64);
        put(&mut self.added, (self.current.len() - shared) as u64);
        for &id in &self.current[shared..] {
            put(&mut self.frame_ids, id);
        }
        put(&mut self.counts, count);
        self.stacks += 1;
        self.total = self.total.saturating_add(count);
        std::mem::swap(&mut self.previous, &mut self.current);
    }

    /// Add `stack` (frames joined with `;`) with `count` samples.
    pub fn push(&mut self, stack: &[u8], count: u64) {
        self.push_frames(stack.split(|&b| b == b';'), count);
    }

    /// The packed trace, compressed to be stored.
    pub fn finish(self) -> Vec<u8> {
        self.finish_at(LEVEL)
    }

    /// The packed trace, compressed at zstd `level` ([`TRANSIENT_LEVEL`] for one that is
    /// read once and never stored). Readers do not care which level wrote it.
    pub fn finish_at(self, level: i32) -> Vec<u8> {
        let mut body = Vec::with_capacity(
            self.dictionary.len()
                + self.shared.len()
                + self.added.len()
                + self.frame_ids.len()
                + self.counts.len()
                + 64,
        );
        put(&mut body, self.stacks);
        put(&mut body, self.total);
        put(&mut body, self.frames);
        body.extend_from_slice(&self.dictionary);
        let columns = [self.shared, self.added, self.frame_ids, self.counts];
        for column in &columns {
            put(&mut body, column.len() as u64);
        }
        for column in &columns {
            body.extend_from_slice(column);
        }
        let mut out = Vec::with_capacity(body.len() / 4 + 16);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        // Compressing into memory with fixed, valid settings cannot fail.
        let mut encoder = zstd::stream::write::Encoder::new(out, level)
            .and_then(|mut e| {
                e.include_checksum(true)?;
                e.set_pledged_src_size(Some(body.len() as u64))?;
                Ok(e)
            })
            .expect("zstd encoder settings are valid");
        std::io::Write::write_all(&mut encoder, &body).expect("writing to memory cannot fail");
        encoder.finish().expect("writing to memory cannot fail")
    }
}

/// Append `n` as an LEB128 varint.
fn put(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads varints from a range of a buffer, tracking its position.
#[derive(Debug, Clone)]
struct Column {
    at: usize,
    end: usize,
    what: &'static str,
}

impl Column {
    fn new(at: usize, end: usize, what: &'static str) -> Self {
        Column { at, end, what }
    }

    fn is_empty(&self) -> bool {
        self.at >= self.end
    }

    fn left(&self) -> usize {
        self.end.saturating_sub(self.at)
    }

    fn varint(&mut self, body: &[u8]) -> Result<u64, PackedError> {
        let bytes = &body[self.at..self.end];
        let mut n: u64 = 0;
        for (i, &byte) in bytes.iter().enumerate().take(10) {
            if i == 9 && byte > 1 {
                break;
            }
            n |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.at += i + 1;
                return Ok(n);
            }
        }
        Err(damaged(format!("bad or missing number in {}", self.what)))
    }

    /// The next `len` bytes, as a range of the body.
    fn take(&mut self, len: u64) -> Result<std::ops::Range<usize>, PackedError> {
        let len = usize::try_from(len).map_err(|_| damaged(format!("{} too long", self.what)))?;
        if len > self.left() {
            return Err(damaged(format!("{} cut short", self.what)));
        }
        self.at += len;
        Ok(self.at - len..self.at)
    }
}

/// The decompressed body of a packed trace, checked for magic and version.
fn body(packed: &[u8]) -> Result<Vec<u8>, PackedError> {
    let Some(rest) = packed.strip_prefix(MAGIC) else {
        return Err(PackedError::NotPacked);
    };
    let (&version, compressed) = rest.split_first().ok_or(PackedError::NotPacked)?;
    if version != VERSION {
        return Err(PackedError::UnknownVersion(version));
    }
    let decoder =
        zstd::stream::read::Decoder::new(compressed).map_err(|e| damaged(e.to_string()))?;
    let mut body = Vec::new();
    let read = decoder
        .take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .map_err(|e| damaged(format!("zstd: {e}")))?;
    if read as u64 > MAX_BODY {
        return Err(damaged(format!("body larger than {MAX_BODY} bytes")));
    }
    Ok(body)
}

/// What a packed trace says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Distinct stacks.
    pub stacks: u64,
    /// Sum of the counts.
    pub samples: u64,
    /// Distinct frame names.
    pub frames: u64,
}

/// Reads a packed trace's stacks one at a time, in folded-log order.
#[derive(Debug)]
pub struct StackReader {
    body: Vec<u8>,
    names: Vec<std::ops::Range<usize>>,
    shared: Column,
    added: Column,
    ids: Column,
    counts: Column,
    summary: Summary,
    left: u64,
    total: u64,
    /// The current stack's text, and where each of its frames ends in it.
    text: Vec<u8>,
    ends: Vec<usize>,
    /// Frames the current stack shares with the one before it.
    shared_now: usize,
}

impl StackReader {
    /// Open `packed`: check its header, decompress its body, read its dictionary.
    pub fn open(packed: &[u8]) -> Result<StackReader, PackedError> {
        let body = body(packed)?;
        let mut head = Column::new(0, body.len(), "the header");
        let stacks = head.varint(&body)?;
        let samples = head.varint(&body)?;
        let frames = head.varint(&body)?;
        // Every frame and stack takes at least one byte: a larger claim is damage,
        // refused before anything is allocated for it.
        if frames > head.left() as u64 || stacks > head.left() as u64 {
            return Err(damaged("more frames or stacks than bytes"));
        }
        let mut dictionary = Column::new(head.at, body.len(), "the frame dictionary");
        let mut names = Vec::with_capacity(frames as usize);
        for _ in 0..frames {
            let len = dictionary.varint(&body)?;
            names.push(dictionary.take(len)?);
        }
        let mut lengths = Column::new(dictionary.at, body.len(), "the column lengths");
        let lengths = [
            lengths.varint(&body)?,
            lengths.varint(&body)?,
            lengths.varint(&body)?,
            lengths.varint(&body)?,
            lengths.at as u64,
        ];
        let mut columns = Column::new(lengths[4] as usize, body.len(), "the columns");
        let mut column = |len: u64, what| -> Result<Column, PackedError> {
            let range = columns.take(len)?;
            Ok(Column::new(range.start, range.end, what))
        };
        let shared = column(lengths[0], "the shared frames")?;
        let added = column(lengths[1], "the added frames")?;
        let ids = column(lengths[2], "the frame ids")?;
        let counts = column(lengths[3], "the counts")?;
        if !columns.is_empty() {
            return Err(damaged("bytes after the last column"));
        }
        Ok(StackReader {
            body,
            names,
            shared,
            added,
            ids,
            counts,
            summary: Summary {
                stacks,
                samples,
                frames,
            },
            left: stacks,
            total: 0,
            text: Vec::new(),
            ends: Vec::new(),
            shared_now: 0,
        })
    }

    /// What the trace says about itself.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// The next stack and its count; `None` after the last one, once the trace is checked
    /// whole (every column consumed, counts adding up).
    pub fn next_stack(&mut self) -> Result<Option<(&[u8], u64)>, PackedError> {
        if self.left == 0 {
            if self.total != self.summary.samples {
                return Err(damaged(format!(
                    "counts add up to {}, the header says {}",
                    self.total, self.summary.samples
                )));
            }
            if [&self.shared, &self.added, &self.ids, &self.counts]
                .iter()
                .any(|c| !c.is_empty())
            {
                return Err(damaged("numbers left over after the last stack"));
            }
            return Ok(None);
        }
        self.left -= 1;
        let shared = self.shared.varint(&self.body)?;
        let added = self.added.varint(&self.body)?;
        if shared > self.ends.len() as u64 || added > self.ids.left() as u64 {
            return Err(damaged(
                "a stack shares more frames than the previous one has",
            ));
        }
        self.ends.truncate(shared as usize);
        self.shared_now = self.ends.len();
        self.text.truncate(self.ends.last().copied().unwrap_or(0));
        for _ in 0..added {
            let id = self.ids.varint(&self.body)?;
            let name = self
                .names
                .get(usize::try_from(id).unwrap_or(usize::MAX))
                .ok_or_else(|| damaged(format!("frame id {id} of {}", self.summary.frames)))?;
            if !self.ends.is_empty() {
                self.text.push(b';');
            }
            self.text.extend_from_slice(&self.body[name.clone()]);
            self.ends.push(self.text.len());
        }
        if self.ends.is_empty() {
            return Err(damaged("a stack without frames"));
        }
        let count = self.counts.varint(&self.body)?;
        self.total = self.total.saturating_add(count);
        Ok(Some((&self.text, count)))
    }
}

/// A stack front-coded against the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrontCoded<'a> {
    /// Frames it shares with the stack before it.
    pub shared: usize,
    /// Its other frames, `;`-separated.
    pub rest: &'a [u8],
    /// Its count.
    pub count: u64,
}

impl StackReader {
    /// The next stack, front-coded against the one before it; as [`Self::next_stack`].
    pub fn next_front_coded(&mut self) -> Result<Option<FrontCoded<'_>>, PackedError> {
        match self.next_stack()? {
            None => Ok(None),
            Some((_, count)) => {
                let rest = match self.shared_now {
                    0 => 0,
                    n => self.ends[n - 1] + 1,
                };
                Ok(Some(FrontCoded {
                    shared: self.shared_now,
                    rest: &self.text[rest..],
                    count,
                }))
            }
        }
    }
}

/// Call `f(stack, count)` for every stack, in the byte order of the stack text (the order
/// of a folded log), and return the trace's [`Summary`]. A damaged trace is an error
/// (`f` may have been called for the stacks before the damage).
pub fn for_each_stack(
    packed: &[u8],
    mut f: impl FnMut(&[u8], u64),
) -> Result<Summary, PackedError> {
    let mut reader = StackReader::open(packed)?;
    while let Some((stack, count)) = reader.next_stack()? {
        f(stack, count);
    }
    Ok(reader.summary())
}

/// A packed trace read as the text of its folded log (`stack count` lines), made a piece at
/// a time: a day's text is hundreds of megabytes, its packed trace one or two. Damage is an
/// [`std::io::ErrorKind::InvalidData`] error.
pub struct FoldedText {
    reader: StackReader,
    piece: Vec<u8>,
    at: usize,
    done: bool,
}

impl FoldedText {
    /// The folded text of `packed`.
    pub fn new(packed: &[u8]) -> Result<FoldedText, PackedError> {
        Ok(FoldedText {
            reader: StackReader::open(packed)?,
            piece: Vec::new(),
            at: 0,
            done: false,
        })
    }
}

impl Read for FoldedText {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        const PIECE: usize = 64 * 1024;
        if self.at == self.piece.len() && !self.done {
            self.piece.clear();
            self.at = 0;
            while self.piece.len() < PIECE {
                match self.reader.next_stack() {
                    Ok(Some((stack, count))) => {
                        self.piece.extend_from_slice(stack);
                        self.piece.push(b' ');
                        self.piece.extend_from_slice(count.to_string().as_bytes());
                        self.piece.push(b'\n');
                    }
                    Ok(None) => {
                        self.done = true;
                        break;
                    }
                    Err(e) => {
                        self.done = true;
                        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
                    }
                }
            }
        }
        let n = buf.len().min(self.piece.len() - self.at);
        buf[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// True when `data` starts like a packed trace (of any version).
pub fn is_packed(data: &[u8]) -> bool {
    data.starts_with(MAGIC)
}

/// Every stack and its count, in folded-log order.
pub fn decode(packed: &[u8]) -> Result<Vec<(Vec<u8>, u64)>, PackedError> {
    let mut stacks = Vec::new();
    for_each_stack(packed, |stack, count| stacks.push((stack.to_vec(), count)))?;
    Ok(stacks)
}

/// The trace as an Arc Lamp folded log (sorted `stack count` lines), uncompressed.
pub fn to_folded(packed: &[u8]) -> Result<Vec<u8>, PackedError> {
    let mut text = Vec::new();
    FoldedText::new(packed)?
        .read_to_end(&mut text)
        .map_err(from_io)?;
    Ok(text)
}

/// The [`PackedError`] inside an error of [`FoldedText`].
fn from_io(error: std::io::Error) -> PackedError {
    match error
        .into_inner()
        .map(|inner| inner.downcast::<PackedError>())
    {
        Some(Ok(packed)) => *packed,
        Some(Err(other)) => damaged(other.to_string()),
        None => damaged("unreadable"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(stacks: &[(&str, u64)]) -> Vec<(String, u64)> {
        let packed = encode(stacks.iter().map(|(s, n)| (s.as_bytes(), *n)));
        decode(&packed)
            .expect("decodes")
            .into_iter()
            .map(|(s, n)| (String::from_utf8(s).expect("utf-8"), n))
            .collect()
    }

    fn sorted(stacks: &[(&str, u64)]) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = stacks.iter().map(|(s, n)| (s.to_string(), *n)).collect();
        v.sort();
        v
    }

    #[test]
    fn hostile_stacks_come_back_exactly_in_folded_log_order() {
        let deep: String = (0..250)
            .map(|i| format!("Frame{i}::run"))
            .collect::<Vec<_>>()
            .join(";");
        let deep_sibling = format!("{deep};leaf");
        let stacks: Vec<(&str, u64)> = vec![
            ("/srv/mw/index.php;MediaWiki::run;Foo::bar", 3),
            ("/srv/mw/index.php;MediaWiki::run", 1),
            // Frames with spaces, and a name that is another's prefix (sorts between the
            // parent's line and its children's).
            (
                "/srv/mw/index.php;MediaWiki::run2;{closure} (Foo.php:12)",
                2,
            ),
            ("/srv/mw/index.php;MediaWiki::run;Foo::bar;baz", 4),
            ("a;b", 1),
            ("a;b2", 1),
            ("a;b;x", 1),
            // Non-ASCII, already sanitized upstream; empty frames at the edges.
            ("api.php;Übersicht::zeige;名前", 7),
            (";leading", 1),
            ("trailing;", 1),
            ("lone", 1),
            (&deep, 1),
            (&deep_sibling, 5),
            ("max", u64::from(u32::MAX)),
        ];
        assert_eq!(round_trip(&stacks), sorted(&stacks));
    }

    #[test]
    fn folded_text_read_in_small_pieces_is_the_whole_log() {
        let stacks: Vec<(String, u64)> = (0..5000)
            .map(|i| (format!("index.php;Run::{};Leaf{}", i % 37, i), 1 + i % 5))
            .collect();
        let packed = encode(stacks.iter().map(|(s, n)| (s.as_bytes(), *n)));
        let mut reader = FoldedText::new(&packed).unwrap();
        let (mut text, mut buf) = (Vec::new(), [0u8; 7]);
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            text.extend_from_slice(&buf[..n]);
        }
        assert_eq!(text, to_folded(&packed).unwrap());
        assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), 5000);
        let mut cut = FoldedText::new(&packed[..packed.len() - 3]);
        let failed = match &mut cut {
            Ok(reader) => reader.read_to_end(&mut Vec::new()).is_err(),
            Err(_) => true,
        };
        assert!(failed, "a truncated trace is an error");
    }

    #[test]
    fn a_writer_fed_frames_in_folded_log_order_writes_what_encode_writes() {
        let stacks: Vec<(String, u64)> = (0..3000)
            .map(|i| (format!("index.php;Run::{};Leaf{}", i % 37, i), 1 + i % 5))
            .collect();
        let mut sorted = stacks.clone();
        sorted.sort();
        let mut writer = Writer::new();
        for (stack, count) in &sorted {
            writer.push_frames(stack.split(';').map(str::as_bytes), *count);
        }
        writer.push(b"zzz", 0);
        let written = writer.finish();
        assert_eq!(
            written,
            encode(stacks.iter().map(|(s, n)| (s.as_bytes(), *n)))
        );
        assert_eq!(decode(&written).unwrap().len(), 3000);
    }

    #[test]
    fn repeated_stacks_are_summed_and_zero_counts_dropped() {
        let got = round_trip(&[("a;b", 2), ("a;c", 0), ("a;b", 3)]);
        assert_eq!(got, vec![("a;b".to_owned(), 5)]);
        assert!(round_trip(&[]).is_empty());
    }

    #[test]
    fn to_folded_is_the_folded_log_text() {
        let packed = encode([(&b"b;c"[..], 2), (&b"a"[..], 1)]);
        assert_eq!(to_folded(&packed).unwrap(), b"a 1\nb;c 2\n");
        let summary = for_each_stack(&packed, |_, _| {}).unwrap();
        assert_eq!(
            summary,
            Summary {
                stacks: 2,
                samples: 3,
                frames: 3
            }
        );
    }

    #[test]
    fn the_example_of_the_format_page_written_by_another_encoder_reads_as_documented() {
        // Made by a Python encoder following docs/packed-format.md only.
        let packed = include_bytes!("../../fuzz/seeds/stored_format/packed-docs-example");
        assert_eq!(to_folded(packed).unwrap(), b"a;b 2\na;b;c 1\na;d 4\n");
    }

    #[test]
    fn another_format_or_version_is_refused_with_a_clear_error() {
        assert!(matches!(
            decode(b"\x1f\x8b\x08gzip"),
            Err(PackedError::NotPacked)
        ));
        let mut packed = encode([(&b"a"[..], 1)]);
        packed[4] = 2;
        let error = decode(&packed).unwrap_err();
        assert!(matches!(error, PackedError::UnknownVersion(2)));
        assert!(error.to_string().contains("upgrade arclamp"), "{error}");
    }

    #[test]
    fn truncated_or_damaged_traces_are_errors_not_panics() {
        let stacks: Vec<(String, u64)> = (0..2000)
            .map(|i| (format!("index.php;Run::{};Leaf{}", i % 37, i), 1 + i % 5))
            .collect();
        let packed = encode(stacks.iter().map(|(s, n)| (s.as_bytes(), *n)));
        for cut in [0, 3, 5, 6, packed.len() / 2, packed.len() - 1] {
            assert!(decode(&packed[..cut]).is_err(), "cut at {cut}");
        }
        // Flip bytes all over: zstd's checksum (or the structure) must notice.
        for at in (5..packed.len()).step_by(packed.len() / 50 + 1) {
            let mut bad = packed.clone();
            bad[at] ^= 0x55;
            assert!(decode(&bad).is_err(), "byte {at} flipped");
        }
    }

    #[test]
    fn a_forged_body_with_wild_numbers_is_refused() {
        let forge = |body: &[u8]| {
            let mut out = MAGIC.to_vec();
            out.push(VERSION);
            out.extend(zstd::encode_all(body, 1).unwrap());
            out
        };
        // Claims 2^63 stacks and frames in a few bytes.
        let mut body = Vec::new();
        for n in [1u64 << 63, 1, 1 << 63] {
            put(&mut body, n);
        }
        assert!(decode(&forge(&body)).is_err());
        // A frame id past the dictionary.
        let mut body = Vec::new();
        for n in [1, 1, 1, 1] {
            put(&mut body, n);
        }
        body.push(b'a');
        for n in [1, 1, 1, 1, 0, 1, 9, 1] {
            put(&mut body, n);
        }
        assert!(decode(&forge(&body))
            .unwrap_err()
            .to_string()
            .contains("frame id 9"));
    }
}
