//! The statistics that describe a stream of collapsed stacks as a profiling workload: how
//! deep, how varied, how long the lines, how much stacks share, how well they compress.
//! `arclamp publish --stats` prints them for the synthetic workload beside those of a real
//! file (`--reference`), which is how the generator ([`crate::ingest::synth`]) is kept
//! within 20 % of real MediaWiki traffic. Pure: fed lines, it hands back numbers.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use crate::ingest::sample::entry_point;
use crate::store::compress;
use crate::store::folded::stack_of;

/// What [`measure`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadStats {
    /// Lines read (one stack capture each).
    pub lines: u64,
    /// Sum of the lines' counts.
    pub samples: u64,
    /// Different stacks.
    pub distinct_stacks: u64,
    /// Share of samples in the 10 most frequent stacks.
    pub top10_share: f64,
    /// Share of lines whose count is 1.
    pub count_one_share: f64,
    /// Frames per line: median, 90th percentile, most.
    pub depth: (u64, u64, u64),
    /// Different frame names.
    pub distinct_frames: u64,
    /// Median length of the different frame names, in bytes.
    pub frame_name_median: u64,
    /// Line length in bytes: mean, median, 90th percentile.
    pub line_bytes: (f64, u64, u64),
    /// Frames a line shares with the line before it, median: in the order given, and
    /// with the distinct stacks sorted.
    pub neighbour_prefix: (u64, u64),
    /// gzip ratio (raw / compressed) of the lines as given, and of the distinct stacks
    /// sorted with their summed counts (a stored window's log).
    pub gzip_ratio: (f64, f64),
    /// Share of samples per entry point, largest first.
    pub entry_points: Vec<(String, f64)>,
}

/// Measure `lines` (`STACK COUNT`, no newline); lines without a count are skipped.
pub fn measure<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> WorkloadStats {
    let mut raw = Vec::new();
    let mut stacks: HashMap<&[u8], u64> = HashMap::new();
    let mut frames: HashSet<&[u8]> = HashSet::new();
    let mut depths = Vec::new();
    let mut lengths = Vec::new();
    let mut prefixes = Vec::new();
    let mut entries: HashMap<String, u64> = HashMap::new();
    let (mut count_one, mut samples) = (0u64, 0u64);
    let mut previous: &[u8] = b"";
    for line in lines {
        let stack = stack_of(line);
        let Some(count) = std::str::from_utf8(&line[stack.len()..])
            .ok()
            .and_then(|c| c.trim().parse::<u64>().ok())
        else {
            continue;
        };
        raw.extend_from_slice(line);
        raw.push(b'\n');
        if count == 1 {
            count_one += 1;
        }
        samples += count;
        *stacks.entry(stack).or_default() += count;
        let mut depth = 0;
        for frame in stack.split(|&b| b == b';') {
            frames.insert(frame);
            depth += 1;
        }
        depths.push(depth);
        lengths.push(line.len() as u64);
        prefixes.push(shared_frames(previous, stack));
        previous = stack;
        let entry = entry_point(stack).unwrap_or("(none)").to_owned();
        *entries.entry(entry).or_default() += count;
    }
    let lines = depths.len() as u64;
    let mut sorted: Vec<(&[u8], u64)> = stacks.into_iter().collect();
    let mut popularity: Vec<u64> = sorted.iter().map(|&(_, n)| n).collect();
    popularity.sort_unstable_by(|a, b| b.cmp(a));
    let top10: u64 = popularity.iter().take(10).sum();
    sorted.sort_unstable();
    let mut sorted_prefixes = Vec::with_capacity(sorted.len());
    let mut log = Vec::new();
    let mut before: &[u8] = b"";
    for &(stack, count) in &sorted {
        sorted_prefixes.push(shared_frames(before, stack));
        before = stack;
        log.extend_from_slice(stack);
        // Writing into a Vec cannot fail.
        let _ = writeln!(log, " {count}");
    }
    let ratio = |text: &[u8]| text.len() as f64 / compress::gzip(text).len().max(1) as f64;
    let mut names: Vec<u64> = frames.iter().map(|f| f.len() as u64).collect();
    let mut entry_points: Vec<(String, f64)> = entries
        .into_iter()
        .map(|(name, n)| (name, n as f64 / samples.max(1) as f64))
        .collect();
    entry_points.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    WorkloadStats {
        lines,
        samples,
        distinct_stacks: sorted.len() as u64,
        top10_share: top10 as f64 / samples.max(1) as f64,
        count_one_share: count_one as f64 / lines.max(1) as f64,
        depth: (
            percentile(&mut depths, 50),
            percentile(&mut depths, 90),
            depths.iter().copied().max().unwrap_or(0),
        ),
        distinct_frames: frames.len() as u64,
        frame_name_median: percentile(&mut names, 50),
        line_bytes: (
            lengths.iter().sum::<u64>() as f64 / lines.max(1) as f64,
            percentile(&mut lengths, 50),
            percentile(&mut lengths, 90),
        ),
        neighbour_prefix: (
            percentile(&mut prefixes, 50),
            percentile(&mut sorted_prefixes, 50),
        ),
        gzip_ratio: (ratio(&raw), ratio(&log)),
        entry_points,
    }
}

/// Leading frames `a` and `b` have in common.
fn shared_frames(a: &[u8], b: &[u8]) -> u64 {
    a.split(|&x| x == b';')
        .zip(b.split(|&x| x == b';'))
        .take_while(|(x, y)| x == y)
        .count() as u64
}

/// The `p`th percentile (nearest rank) of `values`, which it sorts; 0 when empty.
fn percentile(values: &mut [u64], p: usize) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let rank = (values.len() * p).div_ceil(100).clamp(1, values.len());
    values[rank - 1]
}

/// One row of [`side_by_side`]: a name and the two values as text, and their ratio when
/// both are numbers.
fn rows(stats: &WorkloadStats) -> Vec<(&'static str, f64, String)> {
    let per = |n: u64| n as f64 / stats.samples.max(1) as f64;
    vec![
        ("lines", stats.lines as f64, stats.lines.to_string()),
        ("samples", stats.samples as f64, stats.samples.to_string()),
        (
            "distinct stacks per sample",
            per(stats.distinct_stacks),
            format!("{:.3}", per(stats.distinct_stacks)),
        ),
        (
            "samples in the 10 hottest stacks",
            stats.top10_share,
            format!("{:.1} %", 100.0 * stats.top10_share),
        ),
        (
            "lines with count 1",
            stats.count_one_share,
            format!("{:.1} %", 100.0 * stats.count_one_share),
        ),
        (
            "depth, median",
            stats.depth.0 as f64,
            stats.depth.0.to_string(),
        ),
        (
            "depth, p90",
            stats.depth.1 as f64,
            stats.depth.1.to_string(),
        ),
        (
            "depth, max",
            stats.depth.2 as f64,
            stats.depth.2.to_string(),
        ),
        (
            "distinct frame names",
            stats.distinct_frames as f64,
            stats.distinct_frames.to_string(),
        ),
        (
            "frame name length, median",
            stats.frame_name_median as f64,
            format!("{} B", stats.frame_name_median),
        ),
        (
            "line length, mean",
            stats.line_bytes.0,
            format!("{:.0} B", stats.line_bytes.0),
        ),
        (
            "line length, median",
            stats.line_bytes.1 as f64,
            format!("{} B", stats.line_bytes.1),
        ),
        (
            "line length, p90",
            stats.line_bytes.2 as f64,
            format!("{} B", stats.line_bytes.2),
        ),
        (
            "prefix shared with the line before",
            stats.neighbour_prefix.0 as f64,
            format!("{} frames", stats.neighbour_prefix.0),
        ),
        (
            "same, stacks sorted",
            stats.neighbour_prefix.1 as f64,
            format!("{} frames", stats.neighbour_prefix.1),
        ),
        (
            "gzip ratio, lines as sent",
            stats.gzip_ratio.0,
            format!("{:.1}x", stats.gzip_ratio.0),
        ),
        (
            "gzip ratio, sorted log",
            stats.gzip_ratio.1,
            format!("{:.1}x", stats.gzip_ratio.1),
        ),
    ]
}

/// A text table of `ours` (and `reference` beside it, with the ratio and whether it is
/// within 20 %; counts of lines and samples are not compared).
pub fn side_by_side(ours: &WorkloadStats, reference: Option<(&str, &WorkloadStats)>) -> String {
    let mut out = String::new();
    let header = reference.map_or(String::new(), |(name, _)| {
        format!(" {name:>16} {:>7}", "ratio")
    });
    out.push_str(&format!(
        "{:<36} {:>16}{header}\n",
        "statistic", "generated"
    ));
    let theirs = reference.map(|(_, stats)| rows(stats));
    for (i, (name, value, text)) in rows(ours).into_iter().enumerate() {
        out.push_str(&format!("{name:<36} {text:>16}"));
        if let Some(theirs) = &theirs {
            let (_, their_value, their_text) = &theirs[i];
            let ratio = value / their_value;
            let compared = !matches!(name, "lines" | "samples");
            let mark = if !compared {
                ""
            } else if (0.8..=1.2).contains(&ratio) {
                "  ok"
            } else {
                "  off"
            };
            out.push_str(&format!(" {their_text:>16} {ratio:>7.2}{mark}"));
        }
        out.push('\n');
    }
    out.push_str("samples per entry point:");
    for (name, share) in &ours.entry_points {
        out.push_str(&format!(" {name} {:.1} %,", 100.0 * share));
    }
    out.pop();
    out.push('\n');
    if let Some((label, stats)) = reference {
        out.push_str(&format!("{label}:"));
        for (name, share) in &stats.entry_points {
            out.push_str(&format!(" {name} {:.1} %,", 100.0 * share));
        }
        out.pop();
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_a_small_stream() {
        let lines: [&[u8]; 4] = [
            b"/w/index.php;MediaWiki::run;Parser::parse 1",
            b"/w/index.php;MediaWiki::run;Parser::parse 2",
            b"/w/api.php;ApiMain::execute 1",
            b"no count here",
        ];
        let stats = measure(lines);
        assert_eq!(stats.lines, 3);
        assert_eq!(stats.samples, 4);
        assert_eq!(stats.distinct_stacks, 2);
        assert!((stats.count_one_share - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(stats.depth, (3, 3, 3));
        // /w/index.php, MediaWiki::run, Parser::parse, /w/api.php, ApiMain::execute
        assert_eq!(stats.distinct_frames, 5);
        // In order: 0 (first line), 3 (same stack), 0.
        assert_eq!(stats.neighbour_prefix.0, 0);
        assert_eq!(stats.entry_points[0], ("index".to_owned(), 0.75));
        assert_eq!(stats.entry_points[1], ("api".to_owned(), 0.25));
        let table = side_by_side(&stats, Some(("real", &stats)));
        assert!(table.contains("depth, median"), "{table}");
        assert!(table.contains("1.00  ok"), "{table}");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut values = vec![5, 1, 4, 2, 3];
        assert_eq!(percentile(&mut values, 50), 3);
        assert_eq!(percentile(&mut values, 90), 5);
        assert_eq!(percentile(&mut [], 50), 0);
    }
}
