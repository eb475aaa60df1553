//! One pass over the start of a message that finds what ingest needs to know about its first
//! line: where it ends (the first `\n`), whether every byte of it is printable ASCII (then it
//! needs no sanitizing copy), and how many `;` it holds (its depth is that plus one).
//!
//! Ingest reads each message from memory once, here; finding the line end, copying while
//! sanitizing and counting separators used to be three passes. The loop runs 32 bytes at a
//! time with AVX2 when the CPU has it (detected at run time: the build targets baseline
//! x86-64), 16 with SSE2 otherwise, and byte by byte on other architectures. All three give
//! the same answer (tested against each other).
//!
//! [`separator_positions`] is the second scan, for a stack never seen before: where its
//! `;` are, so its frames can be cut out. One vector pass over the (by then cached) line
//! replaces a `memchr` call per frame (which restarts its vector loop at every `;`).

/// What [`scan_line`] found about the text before the first `\n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineScan {
    /// Bytes before the first `\n` (the whole text when it has none).
    pub len: usize,
    /// True when all of those bytes are printable ASCII (0x20 to 0x7E).
    pub printable: bool,
    /// How many of those bytes are `;`.
    pub separators: usize,
}

/// Scan `text` up to its first `\n` (see [`LineScan`]).
#[inline]
pub fn scan_line(text: &[u8]) -> LineScan {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has AVX2 and POPCNT (checked just above).
            return unsafe { x86::scan_avx2(text) };
        }
        // SAFETY: SSE2 is part of every x86-64 CPU.
        unsafe { x86::scan_sse2(text) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    scan_scalar(text)
}

/// Replace `out` with the positions of every `;` in `text`, in order.
#[inline]
pub fn separator_positions(text: &[u8], out: &mut Vec<usize>) {
    out.clear();
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { x86::separators_avx2(text, out) };
        }
        // SAFETY: SSE2 is part of every x86-64 CPU.
        unsafe { x86::separators_sse2(text, out) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    separators_scalar(text, out)
}

/// The byte-by-byte version of [`separator_positions`] (appends to `out`).
pub fn separators_scalar(text: &[u8], out: &mut Vec<usize>) {
    out.extend(memchr::memchr_iter(b';', text));
}

/// True for bytes outside printable ASCII.
#[inline]
fn unprintable(byte: u8) -> bool {
    byte.wrapping_sub(0x20) >= 0x5f
}

/// The byte-by-byte version: the reference the vector versions are tested against.
pub fn scan_scalar(text: &[u8]) -> LineScan {
    let len = memchr::memchr(b'\n', text).unwrap_or(text.len());
    let line = &text[..len];
    LineScan {
        len,
        printable: !line.iter().any(|&b| unprintable(b)),
        separators: line.iter().filter(|&&b| b == b';').count(),
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The vector loops. Each chunk is compared with `\n`, `;` and the printable range at
    //! once: a signed `byte < 0x20` is true for control characters and for every byte of
    //! 0x80 and up, so with `byte == 0x7F` it covers all unprintable bytes. `;` matches are
    //! summed per byte lane (subtracting the all-ones compare result) and folded into the
    //! total every 255 chunks, before a lane could overflow. The last partial chunk is read
    //! as the text's final full chunk, overlapping bytes already counted, which are masked
    //! off.

    use std::arch::x86_64::*;

    use super::{scan_scalar, LineScan};

    /// Bits of a chunk's byte mask from byte `from` on.
    #[inline(always)]
    fn from_byte(from: usize) -> u32 {
        u32::MAX.checked_shl(from as u32).unwrap_or(0)
    }

    /// Where the chunk to scan after `at` starts in a text of `len` bytes, and the mask of
    /// its bytes not scanned yet: the final chunk is the text's last `width` bytes, which
    /// overlaps bytes already scanned rather than reading past the end.
    #[inline(always)]
    fn next_chunk(len: usize, at: usize, width: usize) -> (usize, u32) {
        if at + width <= len {
            (at, u32::MAX)
        } else {
            let start = len - width;
            (start, from_byte(at - start))
        }
    }

    /// Bits of a chunk's byte mask before byte `end`.
    #[inline(always)]
    fn before_byte(end: u32) -> u32 {
        (1u32 << end) - 1
    }

    macro_rules! scan_with {
        (
            $text:ident, $width:expr, $vector:ty, $load:ident, $set1:ident, $zero:ident,
            $cmpeq:ident, $cmpgt:ident, $or:ident, $sub:ident, $movemask:ident, $sum:ident
        ) => {{
            const WIDTH: usize = $width;
            let text: &[u8] = $text;
            if text.len() < WIDTH {
                return scan_scalar(text);
            }
            let newline = $set1(b'\n' as i8);
            let semicolon = $set1(b';' as i8);
            let space = $set1(0x20);
            let delete = $set1(0x7f);
            let mut separators = 0usize;
            let mut lane_counts: $vector = $zero();
            let mut rounds = 0u32;
            let mut unprintable = 0u32;
            let mut at = 0usize;
            loop {
                let (start, fresh) = next_chunk(text.len(), at, WIDTH);
                // SAFETY: start + WIDTH <= text.len(), and the load is unaligned.
                let chunk = unsafe { $load(text.as_ptr().add(start).cast()) };
                let newlines = $movemask($cmpeq(chunk, newline)) as u32 & fresh;
                let semicolons = $cmpeq(chunk, semicolon);
                let bad = $movemask($or($cmpgt(space, chunk), $cmpeq(chunk, delete))) as u32;
                let last = start + WIDTH == text.len();
                if newlines != 0 || last {
                    let keep = if newlines != 0 {
                        fresh & before_byte(newlines.trailing_zeros())
                    } else {
                        fresh
                    };
                    let len = if newlines != 0 {
                        start + newlines.trailing_zeros() as usize
                    } else {
                        text.len()
                    };
                    separators += $sum(lane_counts)
                        + ($movemask(semicolons) as u32 & keep).count_ones() as usize;
                    unprintable |= bad & keep;
                    return LineScan {
                        len,
                        printable: unprintable == 0,
                        separators,
                    };
                }
                unprintable |= bad;
                lane_counts = $sub(lane_counts, semicolons);
                rounds += 1;
                if rounds == 255 {
                    separators += $sum(lane_counts);
                    lane_counts = $zero();
                    rounds = 0;
                }
                at += WIDTH;
            }
        }};
    }

    macro_rules! separators_with {
        ($text:ident, $out:ident, $width:expr, $load:ident, $set1:ident, $cmpeq:ident, $movemask:ident) => {{
            const WIDTH: usize = $width;
            let text: &[u8] = $text;
            let out: &mut Vec<usize> = $out;
            if text.len() < WIDTH {
                return super::separators_scalar(text, out);
            }
            let semicolon = $set1(b';' as i8);
            let mut at = 0usize;
            while at < text.len() {
                let (start, fresh) = next_chunk(text.len(), at, WIDTH);
                // SAFETY: start + WIDTH <= text.len(), and the load is unaligned.
                let chunk = unsafe { $load(text.as_ptr().add(start).cast()) };
                let mut found = $movemask($cmpeq(chunk, semicolon)) as u32 & fresh;
                while found != 0 {
                    out.push(start + found.trailing_zeros() as usize);
                    found &= found - 1;
                }
                at = start + WIDTH;
            }
        }};
    }

    /// [`super::separator_positions`], 16 bytes at a time (appends to `out`).
    ///
    /// # Safety
    /// Needs SSE2 (every x86-64 CPU has it).
    pub unsafe fn separators_sse2(text: &[u8], out: &mut Vec<usize>) {
        separators_with!(
            text,
            out,
            16,
            _mm_loadu_si128,
            _mm_set1_epi8,
            _mm_cmpeq_epi8,
            _mm_movemask_epi8
        )
    }

    /// [`super::separator_positions`], 32 bytes at a time (appends to `out`).
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn separators_avx2(text: &[u8], out: &mut Vec<usize>) {
        separators_with!(
            text,
            out,
            32,
            _mm256_loadu_si256,
            _mm256_set1_epi8,
            _mm256_cmpeq_epi8,
            _mm256_movemask_epi8
        )
    }

    /// The sum of the 16 byte lanes.
    #[inline(always)]
    unsafe fn sum_sse2(counts: __m128i) -> usize {
        let sums = _mm_sad_epu8(counts, _mm_setzero_si128());
        (_mm_cvtsi128_si64(sums) + _mm_extract_epi16(sums, 4) as i64) as usize
    }

    /// The sum of the 32 byte lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn sum_avx2(counts: __m256i) -> usize {
        let sums = _mm256_sad_epu8(counts, _mm256_setzero_si256());
        let low = _mm256_castsi256_si128(sums);
        let high = _mm256_extracti128_si256(sums, 1);
        let both = _mm_add_epi64(low, high);
        (_mm_cvtsi128_si64(both) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(both, both))) as usize
    }

    /// 16 bytes at a time.
    ///
    /// # Safety
    /// Needs SSE2 (every x86-64 CPU has it).
    pub unsafe fn scan_sse2(text: &[u8]) -> LineScan {
        scan_with!(
            text,
            16,
            __m128i,
            _mm_loadu_si128,
            _mm_set1_epi8,
            _mm_setzero_si128,
            _mm_cmpeq_epi8,
            _mm_cmpgt_epi8,
            _mm_or_si128,
            _mm_sub_epi8,
            _mm_movemask_epi8,
            sum_sse2
        )
    }

    /// 32 bytes at a time.
    ///
    /// # Safety
    /// The CPU must have AVX2 and POPCNT.
    #[target_feature(enable = "avx2,popcnt")]
    pub unsafe fn scan_avx2(text: &[u8]) -> LineScan {
        scan_with!(
            text,
            32,
            __m256i,
            _mm256_loadu_si256,
            _mm256_set1_epi8,
            _mm256_setzero_si256,
            _mm256_cmpeq_epi8,
            _mm256_cmpgt_epi8,
            _mm256_or_si256,
            _mm256_sub_epi8,
            _mm256_movemask_epi8,
            sum_avx2
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One version of the scan.
    type Scan = fn(&[u8]) -> LineScan;

    /// Every version available on this machine, with its name.
    fn versions() -> Vec<(&'static str, Scan)> {
        #[allow(unused_mut)]
        let mut all: Vec<(&'static str, Scan)> =
            vec![("scalar", scan_scalar), ("dispatched", scan_line)];
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: SSE2 is part of every x86-64 CPU.
            all.push(("sse2", |t| unsafe { x86::scan_sse2(t) }));
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("popcnt") {
                // SAFETY: checked just above.
                all.push(("avx2", |t| unsafe { x86::scan_avx2(t) }));
            } else {
                eprintln!("this CPU has no AVX2: the AVX2 version is not tested here");
            }
        }
        all
    }

    /// The answer, computed the obvious way.
    fn expected(text: &[u8]) -> LineScan {
        let len = text.iter().position(|&b| b == b'\n').unwrap_or(text.len());
        let line = &text[..len];
        LineScan {
            len,
            printable: line.iter().all(|&b| (0x20..=0x7e).contains(&b)),
            separators: line.iter().filter(|&&b| b == b';').count(),
        }
    }

    fn check(text: &[u8]) {
        let want = expected(text);
        for (name, scan) in versions() {
            assert_eq!(
                scan(text),
                want,
                "{name} on {:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn a_production_line_is_printable_with_its_separators_counted() {
        let line = b"/srv/mediawiki/php-1.45.0-wmf.5/index.php;MediaWiki::run;Parser::parse 1";
        check(line);
        assert_eq!(
            scan_line(line),
            LineScan {
                len: line.len(),
                printable: true,
                separators: 2
            }
        );
        let mut two = line.to_vec();
        two.extend_from_slice(b"\nnext;line;x 2");
        assert_eq!(scan_line(&two).len, line.len());
        assert_eq!(scan_line(&two).separators, 2);
    }

    #[test]
    fn every_unprintable_byte_is_found_at_every_position() {
        for len in [1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100] {
            for bad in (0u8..0x20).chain([0x7f, 0x80, 0x9b, 0xc3, 0xff]) {
                if bad == b'\n' {
                    continue;
                }
                for at in 0..len {
                    let mut text: Vec<u8> = (0..len).map(|i| b"a;b "[i % 4]).collect();
                    text[at] = bad;
                    check(&text);
                    assert!(!scan_line(&text).printable);
                }
            }
        }
    }

    #[test]
    fn the_line_ends_at_the_first_newline_wherever_it_is() {
        for len in [0, 1, 2, 15, 16, 17, 31, 32, 33, 47, 64, 65, 200] {
            for at in 0..len {
                let mut text: Vec<u8> = (0..len).map(|i| b"x;\xff"[i % 3]).collect();
                text[at] = b'\n';
                check(&text);
                assert_eq!(scan_line(&text).len, at);
                // Bytes after the newline do not count: make them all separators.
                for byte in &mut text[at + 1..] {
                    *byte = b';';
                }
                check(&text);
            }
            let text: Vec<u8> = vec![b';'; len];
            check(&text);
        }
    }

    #[test]
    fn separators_are_counted_past_the_lane_overflow_point() {
        // 255 rounds of 32 or 16 bytes fill a byte lane: cross that more than once.
        for len in [
            255 * 16,
            255 * 16 + 1,
            255 * 32,
            255 * 32 + 7,
            20_000,
            70_001,
        ] {
            let text: Vec<u8> = vec![b';'; len];
            check(&text);
            assert_eq!(scan_line(&text).separators, len);
            let mut with_end = text.clone();
            with_end.extend_from_slice(b"\n;;;");
            check(&with_end);
        }
    }

    /// One version of `separator_positions`.
    type Separators = fn(&[u8], &mut Vec<usize>);

    /// Every version of `separator_positions` available on this machine, with its name.
    fn separator_versions() -> Vec<(&'static str, Separators)> {
        #[allow(unused_mut)]
        let mut all: Vec<(&'static str, Separators)> = vec![
            ("scalar", separators_scalar),
            ("dispatched", separator_positions),
        ];
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: SSE2 is part of every x86-64 CPU.
            all.push(("sse2", |t, out| unsafe { x86::separators_sse2(t, out) }));
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: checked just above.
                all.push(("avx2", |t, out| unsafe { x86::separators_avx2(t, out) }));
            }
        }
        all
    }

    fn check_separators(text: &[u8]) {
        let want: Vec<usize> = (0..text.len()).filter(|&i| text[i] == b';').collect();
        for (name, version) in separator_versions() {
            let mut got = Vec::new();
            version(text, &mut got);
            assert_eq!(got, want, "{name} on {:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn separators_are_found_at_every_position_of_every_length() {
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100, 257] {
            check_separators(&vec![b'x'; len]);
            check_separators(&vec![b';'; len]);
            for at in 0..len {
                let mut text = vec![b'x'; len];
                text[at] = b';';
                check_separators(&text);
                // With others too, on both sides of chunk boundaries.
                for other in [0, len / 2, len - 1] {
                    text[other] = b';';
                }
                check_separators(&text);
            }
        }
        let mut out = vec![7, 8];
        separator_positions(b"a;b;;c", &mut out);
        assert_eq!(out, [1, 3, 4], "the output is replaced, not appended to");
    }

    /// A deterministic pseudo-random sequence (the test needs no crate).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
    }

    #[test]
    fn random_texts_agree_with_the_obvious_answer() {
        let mut rng = Lcg(7);
        // Mostly stack text, with rare newlines and unprintable bytes.
        for _ in 0..20_000 {
            let len = (rng.next() % 300) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| match rng.next() % 200 {
                    0 => b'\n',
                    1 => b'\r',
                    2 => (rng.next() % 256) as u8,
                    3..=20 => b';',
                    n => b' ' + (n % 95) as u8,
                })
                .collect();
            check(&text);
            check_separators(&text);
        }
    }
}
