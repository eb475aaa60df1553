//! Segments: what one replica commits in one go (stream mode). A segment is one immutable
//! object holding one *section* per (channel, hour) that received samples since the
//! replica's previous commit: each section a complete gzip'd trace log of entry point `all`
//! (sorted `STACK COUNT` lines), the sections concatenated, so `zcat` prints a segment whole.
//!
//! ```text
//! segments/{consumer}/{epoch}-{seq}-{nonce}.log.gz
//! ```
//!
//! A segment counts only once its commit has indexed its sections in Redis (atomically with
//! the acknowledgement of the entries it holds, see `store::ledger`); a segment written by a
//! replica killed before its commit is an orphan that no reader looks at and that garbage
//! collection deletes. The index records each section as a [`SectionRef`].

use std::fmt;

use crate::store::aggregate::Encoded;

/// Where objects of this kind live.
pub const PREFIX: &str = "segments/";

/// The path of a segment: unique per consumer, epoch, commit number and process (`nonce`),
/// so a path is never written twice.
pub fn path(consumer: &str, epoch: u64, seq: u64, nonce: u64) -> String {
    format!("{PREFIX}{consumer}/{epoch}-{seq:08}-{nonce:016x}.log.gz")
}

/// One section of a segment: where its bytes are, and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SectionRef {
    /// Offset of its gzip member in the segment.
    pub offset: u64,
    /// Length of its gzip member.
    pub len: u64,
    /// Samples it holds (sum of counts).
    pub samples: u64,
    /// Distinct stacks it holds.
    pub stacks: u64,
}

impl fmt::Display for SectionRef {
    /// The form the index stores: `OFFSET LEN SAMPLES STACKS`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.offset, self.len, self.samples, self.stacks
        )
    }
}

impl SectionRef {
    /// Read back what [`Display`](fmt::Display) wrote; `None` for anything else.
    pub fn parse(text: &str) -> Option<SectionRef> {
        let mut numbers = text.split(' ').map(|n| n.parse::<u64>().ok());
        let section = SectionRef {
            offset: numbers.next()??,
            len: numbers.next()??,
            samples: numbers.next()??,
            stacks: numbers.next()??,
        };
        numbers.next().is_none().then_some(section)
    }

    /// This section's bytes (one gzip member) in `segment`.
    pub fn bytes<'a>(&self, segment: &'a [u8]) -> Result<&'a [u8], SegmentError> {
        let start = usize::try_from(self.offset).map_err(|_| SegmentError::OutOfBounds)?;
        let len = usize::try_from(self.len).map_err(|_| SegmentError::OutOfBounds)?;
        let end = start.checked_add(len).ok_or(SegmentError::OutOfBounds)?;
        segment.get(start..end).ok_or(SegmentError::OutOfBounds)
    }
}

/// A section that the index names but the segment does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    /// The index points past the end of the object: it was truncated or replaced.
    #[error("the section lies outside the segment object (truncated or replaced?)")]
    OutOfBounds,
}

/// A segment being put together, one section at a time.
#[derive(Debug, Default)]
pub struct SegmentBuilder {
    bytes: Vec<u8>,
}

impl SegmentBuilder {
    /// An empty segment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append one encoded log as a section; its place for the index.
    pub fn push(&mut self, log: &Encoded) -> SectionRef {
        let offset = self.bytes.len() as u64;
        self.bytes.extend_from_slice(&log.bytes);
        SectionRef {
            offset,
            len: log.bytes.len() as u64,
            samples: log.samples,
            stacks: log.stacks as u64,
        }
    }

    /// The segment's bytes.
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::compress;
    use crate::store::folded::FoldedWriter;

    fn log(lines: &[(&str, u64)]) -> Encoded {
        let mut writer = FoldedWriter::new(64);
        for (stack, count) in lines {
            writer.push(stack.as_bytes(), *count);
        }
        Encoded {
            bytes: writer.finish(),
            stacks: lines.len(),
            samples: lines.iter().map(|(_, c)| c).sum(),
        }
    }

    #[test]
    fn sections_read_back_as_the_logs_that_went_in() {
        let first = log(&[("a;b", 2), ("a;c", 1)]);
        let second = log(&[("x", 5)]);
        let mut builder = SegmentBuilder::new();
        let refs = [builder.push(&first), builder.push(&second)];
        let segment = builder.finish();
        assert_eq!(refs[0].bytes(&segment).unwrap(), &first.bytes[..]);
        assert_eq!(refs[1].bytes(&segment).unwrap(), &second.bytes[..]);
        assert_eq!((refs[1].samples, refs[1].stacks), (5, 1));
        // The whole segment is one gzip stream of both logs, as `zcat` reads it.
        assert_eq!(
            &*compress::maybe_gunzip(&segment).unwrap(),
            b"a;b 2\na;c 1\nx 5\n"
        );
    }

    #[test]
    fn references_round_trip_and_bad_ones_are_refused() {
        let r = SectionRef {
            offset: 10,
            len: 20,
            samples: 4_294_967_296,
            stacks: 3,
        };
        assert_eq!(r.to_string(), "10 20 4294967296 3");
        assert_eq!(SectionRef::parse(&r.to_string()), Some(r));
        for bad in ["", "1 2 3", "1 2 3 4 5", "1 2 x 4", "-1 2 3 4", "1  2 3 4"] {
            assert_eq!(SectionRef::parse(bad), None, "{bad:?}");
        }
        assert_eq!(r.bytes(&[0; 29]), Err(SegmentError::OutOfBounds));
        let huge = SectionRef {
            offset: u64::MAX,
            len: 2,
            ..r
        };
        assert_eq!(huge.bytes(&[0; 29]), Err(SegmentError::OutOfBounds));
    }

    #[test]
    fn paths_are_distinct_per_commit_and_valid_storage_paths() {
        let a = path("pod-a-12", 3, 7, 0xabc);
        assert_eq!(a, "segments/pod-a-12/3-00000007-0000000000000abc.log.gz");
        assert_ne!(a, path("pod-a-12", 3, 8, 0xabc));
        assert!(crate::store::storage::check_path(&a, false).is_ok());
    }
}
