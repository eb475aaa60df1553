//! Properties of range graphs and pruning, checked over generated input: a range is the sum
//! of its windows, and pruning keeps every frame at or above its cut-off exact.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;

use crate::graphs::range::{self, RangeInput};
use crate::graphs::render::tree::PrunedTree;
use crate::store::compress;

fn stack() -> impl Strategy<Value = String> {
    let frame = prop::sample::select(vec!["main", "A", "B", "C::d", "e f", "{closure}"]);
    prop::collection::vec(frame, 1..7).prop_map(|frames| frames.join(";"))
}

fn window() -> impl Strategy<Value = BTreeMap<String, u64>> {
    prop::collection::btree_map(stack(), 1u64..10_000, 0..30)
}

fn log(window: &BTreeMap<String, u64>) -> Bytes {
    let text: String = window.iter().map(|(s, n)| format!("{s} {n}\n")).collect();
    Bytes::from(compress::gzip(text.as_bytes()))
}

/// Samples of the frame path `prefix` (whole frames) in `lines`.
fn under<'a>(lines: impl Iterator<Item = (&'a str, u64)>, prefix: &str) -> u64 {
    lines
        .filter(|(stack, _)| {
            *stack == prefix
                || stack
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with(';'))
        })
        .map(|(_, n)| n)
        .sum()
}

fn parse(line: &str) -> (&str, u64) {
    let (stack, n) = line.rsplit_once(' ').expect("STACK COUNT");
    (stack, n.parse().expect("count"))
}

proptest! {
    #[test]
    fn a_range_is_the_sum_of_its_windows(windows in prop::collection::vec(window(), 1..6)) {
        let inputs: Vec<RangeInput> = windows.iter().map(|w| RangeInput::Log(log(w))).collect();
        let merged = range::merge(&inputs, false, |_| 0.0).expect("merge");
        let mut expected = BTreeMap::new();
        for window in &windows {
            for (stack, count) in window {
                *expected.entry(stack.clone()).or_insert(0u64) += count;
            }
        }
        let got: BTreeMap<String, u64> = merged
            .lines()
            .into_iter()
            .map(|l| {
                let (stack, n) = parse(l);
                (stack.to_owned(), n)
            })
            .collect();
        prop_assert_eq!(merged.samples, expected.values().sum::<u64>());
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn pruning_keeps_every_frame_at_or_above_the_cutoff_exact(
        window in window(),
        cutoff in 0.0f64..20_000.0,
    ) {
        let mut tree = PrunedTree::new(cutoff);
        for (stack, count) in &window {
            tree.push(stack, *count).expect("sorted input");
        }
        let pruned = tree.finish();
        prop_assert_eq!(pruned.samples, window.values().sum::<u64>());
        let out: Vec<(&str, u64)> = pruned.lines().map(parse).collect();
        // Every frame path of the input, whole frames only.
        let mut paths = std::collections::BTreeSet::new();
        for stack in window.keys() {
            let frames: Vec<&str> = stack.split(';').collect();
            for depth in 1..=frames.len() {
                paths.insert(frames[..depth].join(";"));
            }
        }
        for path in paths {
            let input = under(window.iter().map(|(s, n)| (s.as_str(), *n)), &path);
            if input as f64 >= cutoff {
                prop_assert_eq!(
                    under(out.iter().copied(), &path),
                    input,
                    "frame path {} ({} samples, cutoff {})", path, input, cutoff
                );
            }
        }
    }
}
