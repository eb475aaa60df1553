//! The input contract: how one Redis message becomes samples.
//!
//! A message is split on `\n` (a trailing `\r` is dropped); every byte of a line outside
//! printable ASCII becomes `?`; each non-empty line is a collapsed stack
//! `FRAME;...;FRAME COUNT`. Lines that break the contract are rejected with a
//! [`Rejection`] reason, never a panic. This module only parses: counting and logging the
//! rejections is the caller's job (see [`crate::events`]).

use memchr::{memchr, memrchr};

/// Why a line (or, for [`Rejection::TooLarge`], a whole message) was not aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// No decimal count after the last space.
    NoCount,
    /// A count of 0 or above 2^32-1.
    BadCount,
    /// More frames than `aggregation.max_depth`.
    TooDeep,
    /// The message is larger than `aggregation.max_message_bytes` (counted once per message).
    TooLarge,
    /// A count with nothing before it.
    EmptyStack,
}

impl Rejection {
    /// Every reason, for metrics that should show zeros rather than be absent.
    pub const ALL: [Rejection; 5] = [
        Rejection::NoCount,
        Rejection::BadCount,
        Rejection::TooDeep,
        Rejection::TooLarge,
        Rejection::EmptyStack,
    ];

    /// The label used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::NoCount => "no_count",
            Rejection::BadCount => "bad_count",
            Rejection::TooDeep => "too_deep",
            Rejection::TooLarge => "too_large",
            Rejection::EmptyStack => "empty_stack",
        }
    }
}

/// Limits applied while parsing, from the `[aggregation]` config table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most frames a stack may have.
    pub max_depth: usize,
    /// Largest message accepted, in bytes.
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 1000,
            max_message_bytes: 1 << 20,
        }
    }
}

/// One parsed, sanitized sample: a view into the (sanitized in place) message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample<'a> {
    /// The stack, frames separated by `;`, printable ASCII only.
    pub stack: &'a [u8],
    /// How many times the profiler saw this stack (1 ..= 2^32-1).
    pub count: u32,
    /// The entry point (`index`, `api`, ...) named by the first frame, if it names one.
    pub entry: Option<&'a str>,
}

/// Replace every byte outside printable ASCII (0x20..=0x7E) with `?`, in place.
///
/// Inferno escapes `<` and `&` but passes control characters through, which would make the
/// SVG invalid XML; and non-UTF-8 bytes must not reach file names or HTML.
pub fn sanitize_in_place(line: &mut [u8]) {
    for byte in line.iter_mut() {
        *byte = sanitize_byte(*byte);
    }
}

/// A byte, or `?` when it is outside printable ASCII. Branch-free, so loops vectorize.
#[inline]
fn sanitize_byte(byte: u8) -> u8 {
    let printable = byte.wrapping_sub(0x20) < 0x5f;
    if printable {
        byte
    } else {
        b'?'
    }
}

/// Split a message into lines (dropping a trailing `\r`), copy each into `scratch`,
/// sanitize it there, and call `on_line` with each non-empty line. Returns
/// [`Rejection::TooLarge`] without looking at the message when it exceeds
/// `limits.max_message_bytes`.
///
/// Copying line by line into a reused buffer lets the message stay where the Redis client
/// put it: the subscriber hands messages over without copying them, and the copy here is
/// of a few KB that the parser reads next while they are in cache.
pub fn for_each_line(
    message: &[u8],
    limits: &Limits,
    scratch: &mut Vec<u8>,
    mut on_line: impl FnMut(&[u8]),
) -> Result<(), Rejection> {
    if message.len() > limits.max_message_bytes {
        return Err(Rejection::TooLarge);
    }
    for line in lines(message) {
        // Copy and sanitize in one pass.
        scratch.clear();
        scratch.extend(line.iter().map(|&byte| sanitize_byte(byte)));
        on_line(scratch);
    }
    Ok(())
}

/// The non-empty lines of `text`, split on `\n`, each without a trailing `\r`.
pub fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = text;
    std::iter::from_fn(move || {
        while !rest.is_empty() {
            let end = memchr(b'\n', rest).unwrap_or(rest.len());
            let mut line = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or_default();
            if let [head @ .., b'\r'] = line {
                line = head;
            }
            if !line.is_empty() {
                return Some(line);
            }
        }
        None
    })
}

/// Parse one sanitized line `FRAME;...;FRAME COUNT`.
pub fn parse_line<'a>(line: &'a [u8], limits: &Limits) -> Result<Sample<'a>, Rejection> {
    let space = memrchr(b' ', line).ok_or(Rejection::NoCount)?;
    let count = parse_count(&line[space + 1..])?;
    let mut stack = &line[..space];
    while let [head @ .., b' '] = stack {
        stack = head;
    }
    if stack.is_empty() {
        return Err(Rejection::EmptyStack);
    }
    // Depth is frames = separators + 1.
    let separators = count_byte(stack, b';');
    if separators >= limits.max_depth {
        return Err(Rejection::TooDeep);
    }
    Ok(Sample {
        stack,
        count,
        entry: entry_point(stack),
    })
}

fn parse_count(digits: &[u8]) -> Result<u32, Rejection> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Rejection::NoCount);
    }
    // Leading zeros are allowed; more than 20 significant digits overflow u64 anyway.
    let significant = digits
        .iter()
        .position(|&d| d != b'0')
        .map_or(&digits[..0], |i| &digits[i..]);
    if significant.len() > 10 {
        return Err(Rejection::BadCount);
    }
    let value = significant
        .iter()
        .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
    match u32::try_from(value) {
        Ok(0) | Err(_) => Err(Rejection::BadCount),
        Ok(count) => Ok(count),
    }
}

/// How many times `needle` occurs in `haystack` (SIMD, picked at run time: a stack has
/// ~100 separators, at each of which memchr would stop).
pub fn count_byte(haystack: &[u8], needle: u8) -> usize {
    bytecount::count(haystack, needle)
}

/// The entry point named by a stack's first frame: for a path ending in `/NAME.php` (or a
/// bare `NAME.php`), with NAME made of letters, digits and `_`, that NAME.
pub fn entry_point(stack: &[u8]) -> Option<&str> {
    let first = &stack[..memchr(b';', stack).unwrap_or(stack.len())];
    let file = &first[memrchr(b'/', first).map_or(0, |i| i + 1)..];
    let name = file.strip_suffix(b".php")?;
    if name.is_empty() || !name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') {
        return None;
    }
    // Checked ASCII above, so this cannot fail.
    std::str::from_utf8(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Sample<'_>, Rejection> {
        parse_line(line.as_bytes(), &Limits::default())
    }

    fn lines_of(message: &[u8]) -> Vec<String> {
        let mut scratch = Vec::new();
        let mut out = Vec::new();
        for_each_line(message, &Limits::default(), &mut scratch, |l| {
            out.push(String::from_utf8(l.to_vec()).unwrap())
        })
        .unwrap();
        out
    }

    #[test]
    fn parses_a_production_line_and_tags_its_entry_point() {
        let s = parse("/srv/mediawiki/php-1.45.0-wmf.5/index.php;MediaWiki::run;Parser::parse 3")
            .unwrap();
        assert_eq!(
            s.stack,
            b"/srv/mediawiki/php-1.45.0-wmf.5/index.php;MediaWiki::run;Parser::parse"
        );
        assert_eq!(s.count, 3);
        assert_eq!(s.entry, Some("index"));
    }

    #[test]
    fn entry_point_needs_a_php_file_name_of_word_characters() {
        assert_eq!(entry_point(b"/srv/w/RunJobs.php;Job::run"), Some("RunJobs"));
        assert_eq!(entry_point(b"api.php"), Some("api"));
        assert_eq!(entry_point(b"{main};index.php"), None);
        assert_eq!(entry_point(b"/srv/w/.php;x"), None);
        assert_eq!(entry_point(b"/srv/w/in-dex.php;x"), None);
        assert_eq!(entry_point(b"/srv/w/index.php5;x"), None);
        assert_eq!(entry_point(b"excimer_truncated;/srv/index.php"), None);
    }

    #[test]
    fn splits_messages_on_newlines_and_drops_carriage_returns() {
        assert_eq!(lines_of(b"a;b 1\r\n\nc 2\n"), vec!["a;b 1", "c 2"]);
        assert_eq!(lines_of(b"a 1"), vec!["a 1"]);
        assert!(lines_of(b"\n\r\n").is_empty());
    }

    #[test]
    fn replaces_bytes_outside_printable_ascii() {
        assert_eq!(
            lines_of(b"a\x1b[31m;\xff\xfeb\t 1\n"),
            vec!["a?[31m;??b? 1"]
        );
    }

    #[test]
    fn rejects_lines_without_a_valid_count() {
        assert_eq!(parse("a;b"), Err(Rejection::NoCount));
        assert_eq!(parse("a;b "), Err(Rejection::NoCount));
        assert_eq!(parse("a;b x1"), Err(Rejection::NoCount));
        assert_eq!(parse("a;b -1"), Err(Rejection::NoCount));
        assert_eq!(parse("a;b 1.5"), Err(Rejection::NoCount));
    }

    #[test]
    fn rejects_counts_of_zero_or_beyond_u32() {
        assert_eq!(parse("a 0"), Err(Rejection::BadCount));
        assert_eq!(parse("a 4294967296"), Err(Rejection::BadCount));
        assert_eq!(parse("a 99999999999999999999999"), Err(Rejection::BadCount));
        assert_eq!(parse("a 4294967295").unwrap().count, u32::MAX);
        assert_eq!(parse("a 007").unwrap().count, 7);
    }

    #[test]
    fn rejects_an_empty_stack() {
        assert_eq!(parse(" 5"), Err(Rejection::EmptyStack));
        assert_eq!(parse("   5"), Err(Rejection::EmptyStack));
    }

    #[test]
    fn depth_limit_counts_frames() {
        let limits = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        assert!(parse_line(b"a;b;c 1", &limits).is_ok());
        assert_eq!(parse_line(b"a;b;c;d 1", &limits), Err(Rejection::TooDeep));
        let deep = format!("{} 1", vec!["f"; 1001].join(";"));
        assert_eq!(parse(&deep), Err(Rejection::TooDeep));
        let ok = format!("{} 1", vec!["f"; 1000].join(";"));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn count_byte_counts_across_lane_and_block_boundaries() {
        for len in [
            0,
            1,
            31,
            32,
            33,
            255 * 32 - 1,
            255 * 32,
            255 * 32 + 5,
            20_000,
        ] {
            let text: Vec<u8> = (0..len)
                .map(|i| if i % 3 == 0 { b';' } else { b'x' })
                .collect();
            assert_eq!(
                count_byte(&text, b';'),
                text.iter().filter(|&&b| b == b';').count(),
                "len {len}"
            );
        }
    }

    #[test]
    fn oversized_messages_are_rejected_whole() {
        let limits = Limits {
            max_message_bytes: 4,
            ..Limits::default()
        };
        let msg = b"a 1\nb 1\n".to_vec();
        assert_eq!(
            for_each_line(&msg, &limits, &mut Vec::new(), |_| panic!("must not parse")),
            Err(Rejection::TooLarge)
        );
    }

    #[test]
    fn trailing_spaces_before_the_count_are_not_part_of_the_stack() {
        assert_eq!(parse("a;b  2").unwrap().stack, b"a;b");
    }
}
