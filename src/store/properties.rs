//! Properties of the store's formats and merges, checked over generated input (proptest
//! shrinks a failure to a minimal case): merging is associative and commutative and equals
//! aggregating everything at once; what is written reads back as it was (gzip'd folded
//! logs, segments, packed traces).

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::store::catalogue::LogSummary;
use crate::store::compress;
use crate::store::seal;
use crate::store::segment::{SectionRef, SegmentBuilder};

/// A stack: one to six frames from a small alphabet (so stacks recur and share prefixes),
/// some with spaces, as real frames (`{closure}`, file paths) may have.
fn stack() -> impl Strategy<Value = String> {
    let frame = prop::sample::select(vec![
        "/srv/mw/index.php",
        "/srv/mw/api.php",
        "MediaWiki::run",
        "Parser::parse",
        "{closure}",
        "a b",
        "Ünïcode::x",
        "Z",
    ]);
    prop::collection::vec(frame, 1..6).prop_map(|frames| frames.join(";"))
}

/// `STACK COUNT` lines, unsorted, stacks repeated.
fn lines() -> impl Strategy<Value = Vec<(String, u64)>> {
    prop::collection::vec((stack(), 1u64..=u32::MAX as u64), 0..40)
}

fn text(lines: &[(String, u64)]) -> String {
    lines.iter().map(|(s, n)| format!("{s} {n}\n")).collect()
}

fn sum(lines: &[(String, u64)]) -> BTreeMap<String, u64> {
    let mut sum = BTreeMap::new();
    for (stack, count) in lines {
        *sum.entry(stack.clone()).or_default() += count;
    }
    sum
}

/// The `all` log of `inputs` merged, as stack -> count, and its gzip'd bytes.
fn merged(inputs: &[Vec<u8>]) -> (BTreeMap<String, u64>, Vec<u8>) {
    let sealed = seal::merge(inputs, 64).expect("generated logs merge");
    let plain = compress::maybe_gunzip(&sealed.all.bytes).expect("gzip");
    let text = String::from_utf8(plain.into_owned()).expect("UTF-8");
    let counts = text
        .lines()
        .map(|l| {
            let (stack, n) = l.rsplit_once(' ').expect("STACK COUNT");
            (stack.to_owned(), n.parse().expect("count"))
        })
        .collect();
    (counts, sealed.all.bytes)
}

proptest! {
    /// A packed trace reads back as the folded log of the same samples, line for line.
    #[test]
    fn packed_traces_decode_to_the_folded_log_of_what_was_encoded(lines in lines()) {
        let summed = sum(&lines);
        let packed = crate::store::packed::encode(
            lines.iter().map(|(s, n)| (s.as_bytes(), *n)),
        );
        let folded = crate::store::packed::to_folded(&packed).expect("decodes");
        prop_assert_eq!(String::from_utf8(folded).expect("UTF-8"), text(
            &summed.into_iter().collect::<Vec<_>>(),
        ));
    }

    #[test]
    fn merging_parts_equals_aggregating_the_concatenation(
        lines in lines(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(lines.len() + 1)).collect();
        at.sort_unstable();
        let mut parts = Vec::new();
        let mut from = 0;
        for to in at.into_iter().chain([lines.len()]) {
            parts.push(compress::gzip(text(&lines[from..to]).as_bytes()));
            from = to;
        }
        let (by_parts, _) = merged(&parts);
        let (at_once, _) = merged(&[text(&lines).into_bytes()]);
        prop_assert_eq!(&by_parts, &at_once);
        prop_assert_eq!(by_parts, sum(&lines));
    }

    #[test]
    fn merging_is_commutative_and_associative(a in lines(), b in lines(), c in lines()) {
        let [a, b, c] = [a, b, c].map(|l| compress::gzip(text(&l).as_bytes()));
        let (ab, _) = merged(&[a.clone(), b.clone()]);
        let (ba, _) = merged(&[b.clone(), a.clone()]);
        prop_assert_eq!(ab, ba);
        let (_, ab_bytes) = merged(&[a.clone(), b.clone()]);
        let (_, bc_bytes) = merged(&[b, c.clone()]);
        let (left, left_bytes) = merged(&[ab_bytes, c]);
        let (right, right_bytes) = merged(&[a, bc_bytes]);
        prop_assert_eq!(left, right);
        // Deterministic: the same counts give the same bytes (a re-done seal rewrites
        // exactly what an interrupted one wrote).
        prop_assert_eq!(left_bytes, right_bytes);
    }

    #[test]
    fn every_section_of_a_segment_reads_back_as_written(
        logs in prop::collection::vec(lines(), 1..5),
    ) {
        let mut builder = SegmentBuilder::new();
        let mut written = Vec::new();
        for lines in &logs {
            let encoded = seal::merge([text(lines).into_bytes()], 64).expect("merge").all;
            let section = builder.push(&encoded);
            written.push((section, encoded.bytes, sum(lines)));
        }
        let segment = builder.finish();
        for (section, gzip, counts) in written {
            prop_assert_eq!(SectionRef::parse(&section.to_string()), Some(section));
            let bytes = section.bytes(&segment).expect("section in its segment");
            prop_assert_eq!(bytes, gzip.as_slice());
            let (read, _) = merged(&[bytes.to_vec()]);
            prop_assert_eq!(read, counts);
        }
    }

    #[test]
    fn a_log_summary_reads_back_as_written(samples in any::<u64>(), stacks in any::<u64>()) {
        let summary = LogSummary { samples, stacks };
        prop_assert_eq!(LogSummary::decode(&summary.encode()), Some(summary));
    }
}
