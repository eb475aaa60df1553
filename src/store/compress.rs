//! gzip in one place: trace logs (`.log.gz`) and flame graphs (`.svgz`) are both gzip, and
//! every reader accepts plain text as well, so operators can feed either.

use std::io::{BufRead, BufReader, Read, Write};

use bytes::Bytes;

use flate2::read::MultiGzDecoder;

use crate::store::packed;
use flate2::write::GzEncoder;
use flate2::Compression;

/// Compression level used for everything arclamp writes: level 6 (gzip's default) costs
/// about three times level 1 for a few percent of size, and checkpoints run often.
pub const LEVEL: u32 = 3;

/// Compression level of what is written to be read once and deleted within hours (stream
/// mode's segments): level 1, the cheapest that still compresses (measured on the drain
/// benchmark, deflate at level 3 was 40 % of the CPU time).
pub const TRANSIENT_LEVEL: u32 = 1;

/// Compression level for what is written once and then kept and served for years: the
/// graphs of a window that has ended. Level 9 makes a daily graph about 15 % smaller than
/// [`LEVEL`] (fewer bytes stored, and per request, which is what limits serving it) for
/// about 0.25 s more CPU once per graph.
pub const ARCHIVE_LEVEL: u32 = 9;

/// Error decoding gzip input.
#[derive(Debug, thiserror::Error)]
#[error("stored log does not decode ({0}); is the file truncated?")]
pub struct GunzipError(#[from] std::io::Error);

/// Compress `data` into a gzip member at [`LEVEL`].
pub fn gzip(data: &[u8]) -> Vec<u8> {
    gzip_at(data, LEVEL)
}

/// Compress `data` into a gzip member at `level` (0-9).
pub fn gzip_at(data: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        Compression::new(level.min(9)),
    );
    // Writing into a Vec cannot fail.
    encoder.write_all(data).expect("write to Vec");
    encoder.finish().expect("finish into Vec")
}

/// A streaming gzip writer into memory, for callers that produce output piece by piece.
pub fn gzip_writer(capacity_hint: usize) -> GzEncoder<Vec<u8>> {
    gzip_writer_at(capacity_hint, LEVEL)
}

/// A streaming gzip encoder into memory at `level` (0-9).
pub fn gzip_writer_at(capacity_hint: usize, level: u32) -> GzEncoder<Vec<u8>> {
    GzEncoder::new(
        Vec::with_capacity(capacity_hint),
        Compression::new(level.min(9)),
    )
}

/// True when `data` starts with the gzip magic bytes.
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
}

/// `input` decompressed as it is read when it is gzip (all members, as `zcat` does), as
/// folded text when it is a [`packed`] trace, as is when it is plain: for inputs too large
/// to hold as text (a day's log).
pub fn maybe_gunzip_reader<'a>(input: impl Read + 'a) -> std::io::Result<Box<dyn BufRead + 'a>> {
    // Large buffers: these inputs are megabytes to gigabytes.
    const BUFFER: usize = 1 << 18;
    let mut input = BufReader::with_capacity(BUFFER, input);
    if packed::is_packed(input.fill_buf()?) {
        return Ok(Box::new(BufReader::with_capacity(
            BUFFER,
            folded_text(input)?,
        )));
    }
    Ok(if is_gzip(input.fill_buf()?) {
        Box::new(BufReader::with_capacity(
            BUFFER,
            flate2::bufread::MultiGzDecoder::new(input),
        ))
    } else {
        Box::new(input)
    })
}

/// The folded text of the packed trace `input` holds. A packed trace is small (a day's is
/// a megabyte or two): it is read whole, and its text made as it is read.
fn folded_text(mut input: impl Read) -> std::io::Result<packed::FoldedText> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    packed::FoldedText::new(&bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Decompress gzip input (all members, as `zcat` does) or a [`packed`] trace (into its
/// folded log); plain input is returned as is.
pub fn maybe_gunzip(data: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, GunzipError> {
    if packed::is_packed(data) {
        let text = packed::to_folded(data)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        return Ok(std::borrow::Cow::Owned(text));
    }
    if !is_gzip(data) {
        return Ok(std::borrow::Cow::Borrowed(data));
    }
    let mut out = Vec::with_capacity(data.len() * 4);
    MultiGzDecoder::new(data).read_to_end(&mut out)?;
    Ok(std::borrow::Cow::Owned(out))
}

/// Decompress gzip `input` (all members), or make a [`packed`] trace's folded text, piece
/// by piece, each piece at most `chunk` bytes: a daily log is gigabytes of text, so
/// whoever hands it on (an HTTP response to a client that does not accept gzip) holds one
/// piece at a time, never the whole text.
pub fn gunzip_chunks<'a, R: Read + 'a>(input: R, chunk: usize) -> GunzipChunks<'a> {
    let mut input = BufReader::new(input);
    let decoder: std::io::Result<Box<dyn Read + 'a>> = match input.fill_buf() {
        Ok(head) if packed::is_packed(head) => {
            folded_text(input).map(|text| Box::new(text) as Box<dyn Read + 'a>)
        }
        Ok(_) => Ok(Box::new(flate2::bufread::MultiGzDecoder::new(input))),
        Err(e) => Err(e),
    };
    let (decoder, failed) = match decoder {
        Ok(decoder) => (decoder, None),
        Err(e) => (Box::new(std::io::empty()) as Box<dyn Read + 'a>, Some(e)),
    };
    GunzipChunks {
        decoder,
        failed,
        chunk: chunk.max(1),
        done: false,
    }
}

/// The pieces of [`gunzip_chunks`], in order; an error ends them.
pub struct GunzipChunks<'a> {
    decoder: Box<dyn Read + 'a>,
    failed: Option<std::io::Error>,
    chunk: usize,
    done: bool,
}

impl Iterator for GunzipChunks<'_> {
    type Item = Result<Bytes, GunzipError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(error) = self.failed.take() {
            self.done = true;
            return Some(Err(GunzipError(error)));
        }
        let mut piece = Vec::with_capacity(self.chunk);
        match (&mut self.decoder)
            .take(self.chunk as u64)
            .read_to_end(&mut piece)
        {
            Ok(0) => {
                self.done = true;
                None
            }
            Ok(_) => Some(Ok(Bytes::from(piece))),
            Err(e) => {
                self.done = true;
                Some(Err(GunzipError(e)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_passes_plain_text_through() {
        let text = b"a;b 1\na;c 2\n";
        let packed = gzip(text);
        assert!(is_gzip(&packed));
        assert_eq!(&*maybe_gunzip(&packed).unwrap(), text);
        assert_eq!(&*maybe_gunzip(text).unwrap(), text);
    }

    #[test]
    fn chunks_reassemble_every_member_and_none_is_larger_than_asked() {
        let first: Vec<u8> = (0..50_000u32)
            .flat_map(|i| format!("a;b{i} 1\n").into_bytes())
            .collect();
        let second = b"x;y 2\n".repeat(1000);
        let mut packed = gzip(&first);
        packed.extend(gzip(&second));
        let pieces: Vec<Bytes> = gunzip_chunks(&packed[..], 4096)
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(pieces.len() > 100, "{} pieces", pieces.len());
        assert!(pieces
            .iter()
            .all(|piece| !piece.is_empty() && piece.len() <= 4096));
        assert_eq!(pieces.concat(), [first, second].concat());
    }

    #[test]
    fn a_truncated_member_ends_the_chunks_with_an_error() {
        let text = b"a;b 1\n".repeat(100_000);
        let packed = gzip(&text);
        let results: Vec<_> = gunzip_chunks(&packed[..packed.len() / 2], 64 * 1024).collect();
        assert!(results.last().unwrap().is_err());
        assert!(results[..results.len() - 1].iter().all(Result::is_ok));
        // Not gzip at all: one error, then nothing.
        let mut empty = gunzip_chunks(&b""[..], 10);
        assert!(empty.next().unwrap().is_err());
        assert!(empty.next().is_none());
    }

    #[test]
    fn a_packed_trace_reads_as_its_folded_log_everywhere_a_gzip_log_does() {
        let lines: Vec<String> = (0..20_000u32)
            .map(|i| format!("a;b{i} {}\n", 1 + i % 3))
            .collect();
        let mut text: Vec<String> = lines.clone();
        text.sort();
        let text = text.concat().into_bytes();
        let trace = packed::encode(lines.iter().map(|l| {
            let (stack, n) = l.trim_end().rsplit_once(' ').unwrap();
            (stack.as_bytes(), n.parse().unwrap())
        }));
        assert_eq!(&*maybe_gunzip(&trace).unwrap(), &text[..]);
        let mut read = Vec::new();
        maybe_gunzip_reader(&trace[..])
            .unwrap()
            .read_to_end(&mut read)
            .unwrap();
        assert_eq!(read, text);
        let pieces: Vec<Bytes> = gunzip_chunks(&trace[..], 4096)
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(pieces.iter().all(|p| p.len() <= 4096) && pieces.len() > 10);
        assert_eq!(pieces.concat(), text);
        // Damaged: an error, not a panic, and never a partial log presented as whole.
        let cut = &trace[..trace.len() - 4];
        assert!(maybe_gunzip(cut).is_err());
        assert!(gunzip_chunks(cut, 4096).any(|p| p.is_err()));
    }

    #[test]
    fn truncated_gzip_is_an_error_not_a_panic() {
        let packed = gzip(b"a;b 1\n");
        assert!(maybe_gunzip(&packed[..packed.len() - 6]).is_err());
    }
}
