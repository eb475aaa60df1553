//! The input contract: how one Redis message becomes samples.
//!
//! A message is split on `\n` (a trailing `\r` is dropped); every byte of a line outside
//! printable ASCII becomes `?`; each non-empty line is a collapsed stack
//! `FRAME;...;FRAME COUNT`. Lines that break the contract are rejected with a
//! [`Rejection`] reason, never a panic. This module only parses: counting and logging the
//! rejections is the caller's job (see [`crate::ops::events`]).

use memchr::{memchr, memrchr};

use crate::ingest::line_scan::scan_line;
// Defined with the events that count it (ops imports nothing of ingest).
pub use crate::ops::events::Rejection;

/// The entry point every sample counts in, whatever its first frame.
pub const ALL: &str = "all";

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

/// Split a message into lines (dropping a trailing `\r`), sanitize each, and call
/// `on_line` with each non-empty line. Returns [`Rejection::TooLarge`] without looking at
/// the message when it exceeds `limits.max_message_bytes`.
pub fn for_each_line(
    message: &[u8],
    limits: &Limits,
    scratch: &mut Vec<u8>,
    mut on_line: impl FnMut(&[u8]),
) -> Result<(), Rejection> {
    for_each_scanned_line(message, limits, scratch, |line, _| on_line(line))
}

/// Split a message into lines and parse each non-empty one, calling `on_sample` with each
/// line's sample or the reason it was rejected: [`for_each_line`] and [`parse_line`] in one
/// pass over each line. Returns [`Rejection::TooLarge`] without looking at the message
/// when it exceeds `limits.max_message_bytes`.
pub fn for_each_sample(
    message: &[u8],
    limits: &Limits,
    scratch: &mut Vec<u8>,
    mut on_sample: impl FnMut(Result<Sample<'_>, Rejection>),
) -> Result<(), Rejection> {
    for_each_scanned_line(message, limits, scratch, |line, separators| {
        on_sample(parse_scanned_line(line, separators, limits))
    })
}

/// The lines of a message, sanitized, each with its number of `;`.
///
/// Each line is read from the message once ([`scan_line`]). A line that is all printable
/// ASCII, as real stacks are, is handed over where it is, in the message: the subscriber
/// hands messages over without copying them, so it is never copied. Other lines are copied
/// into `scratch` and sanitized there.
fn for_each_scanned_line(
    message: &[u8],
    limits: &Limits,
    scratch: &mut Vec<u8>,
    mut on_line: impl FnMut(&[u8], usize),
) -> Result<(), Rejection> {
    if message.len() > limits.max_message_bytes {
        return Err(Rejection::TooLarge);
    }
    let mut rest = message;
    while !rest.is_empty() {
        let scan = scan_line(rest);
        let mut line = &rest[..scan.len];
        rest = rest.get(scan.len + 1..).unwrap_or_default();
        if let [head @ .., b'\r'] = line {
            line = head;
        }
        if line.is_empty() {
            continue;
        }
        // `;` is printable, so sanitizing does not change the count; a dropped `\r` (which
        // made the line unprintable) is not a `;` either.
        if scan.printable {
            on_line(line, scan.separators);
        } else {
            scratch.clear();
            scratch.extend(line.iter().map(|&byte| sanitize_byte(byte)));
            on_line(scratch, scan.separators);
        }
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
    parse_scanned_line(line, count_byte(line, b';'), limits)
}

/// [`parse_line`] for a line whose `;` were counted already (`separators`): a valid count
/// has none, so they are all the stack's.
fn parse_scanned_line<'a>(
    line: &'a [u8],
    separators: usize,
    limits: &Limits,
) -> Result<Sample<'a>, Rejection> {
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
/// bare `NAME.php`), with NAME made of letters, digits and `_`, that NAME. `all.php` names
/// none: `all` is the log of every sample, and a stack tagged `all` would count in it twice
/// (found by the `message` fuzz target).
pub fn entry_point(stack: &[u8]) -> Option<&str> {
    let first = &stack[..memchr(b';', stack).unwrap_or(stack.len())];
    let file = &first[memrchr(b'/', first).map_or(0, |i| i + 1)..];
    let name = file.strip_suffix(b".php")?;
    if name.is_empty()
        || name == ALL.as_bytes()
        || !name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
    {
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
        assert_eq!(
            entry_point(b"/srv/w/all.php;x"),
            None,
            "all is every sample's log"
        );
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

    /// What [`for_each_sample`] reports for a message.
    fn samples_of(message: &[u8], limits: &Limits) -> Vec<Result<(String, u32), Rejection>> {
        let mut out = Vec::new();
        for_each_sample(message, limits, &mut Vec::new(), |sample| {
            out.push(sample.map(|s| (String::from_utf8(s.stack.to_vec()).unwrap(), s.count)))
        })
        .unwrap();
        out
    }

    #[test]
    fn for_each_sample_agrees_with_splitting_then_parsing() {
        let limits = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        let message =
            b"a;b;c 1\r\na;b;c;d 2\n\nx\xff;y\t 3\r\n a\x01;;b 4\nq;r 0\nno count\n;;\x7f 9\n;\r";
        let mut scratch = Vec::new();
        let mut want = Vec::new();
        for_each_line(message, &limits, &mut scratch, |line| {
            want.push(
                parse_line(line, &limits)
                    .map(|s| (String::from_utf8(s.stack.to_vec()).unwrap(), s.count)),
            )
        })
        .unwrap();
        assert_eq!(samples_of(message, &limits), want);
        assert_eq!(
            want,
            vec![
                Ok(("a;b;c".to_owned(), 1)),
                Err(Rejection::TooDeep),
                Ok(("x?;y?".to_owned(), 3)),
                Ok((" a?;;b".to_owned(), 4)),
                Err(Rejection::BadCount),
                Err(Rejection::NoCount),
                Ok((";;?".to_owned(), 9)),
                Err(Rejection::NoCount),
            ]
        );
    }

    #[test]
    fn long_clean_and_dirty_lines_parse_the_same_way() {
        let frames: Vec<String> = (0..300).map(|i| format!("Ns\\Class{i}::run")).collect();
        let clean = format!("/srv/w/index.php;{} 7", frames.join(";"));
        let dirty = clean.replacen("Class17", "Cl\u{e9}ss17", 1);
        let message = format!("{clean}\n{dirty}\r\n");
        let samples = samples_of(message.as_bytes(), &Limits::default());
        assert_eq!(samples.len(), 2);
        let (stack, count) = samples[0].clone().unwrap();
        assert_eq!((stack.as_str(), count), (&clean[..clean.len() - 2], 7));
        let (stack, _) = samples[1].clone().unwrap();
        assert_eq!(
            stack,
            clean[..clean.len() - 2].replacen("Class17", "Cl??ss17", 1)
        );
        let shallow = Limits {
            max_depth: 300,
            ..Limits::default()
        };
        assert_eq!(
            samples_of(message.as_bytes(), &shallow),
            vec![Err(Rejection::TooDeep), Err(Rejection::TooDeep)]
        );
    }

    #[test]
    fn trailing_spaces_before_the_count_are_not_part_of_the_stack() {
        assert_eq!(parse("a;b  2").unwrap().stack, b"a;b");
    }
}
