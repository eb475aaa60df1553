//! The leaderboard of functions most often on CPU: each sample counts for its leaf frame,
//! after skipping uninteresting leaf frames (`[top] skip`, by default the frames of
//! Excimer's own flush callback, which show up in stacks sampled while the profiler
//! publishes). Pure: callers hand it folded stacks and get rows with percentages back, so
//! `/api/top` and `arclamp top` share every number.

use std::collections::HashMap;

use regex::Regex;
use serde::Serialize;

/// The frames skipped by default: Excimer's flush callback (the profiler formatting its log
/// and publishing it to Redis) is not what the application spent its time on.
pub const DEFAULT_SKIP: &[&str] = &[
    "ExcimerProfiler::*",
    "ExcimerLog::*",
    "ExcimerLogEntry::*",
    "ExcimerTimer::*",
    "Redis::publish",
];

/// Rows returned when no `limit` is given.
pub const DEFAULT_LIMIT: usize = 50;

/// Most rows one leaderboard may return (`limit`).
pub const MAX_LIMIT: usize = 1000;

/// Longest `grep` expression accepted, in bytes.
pub const MAX_GREP_BYTES: usize = 256;

/// Compiled size limit of a `grep` expression: a short pattern such as `a{1000}{1000}`
/// can still compile to a huge program.
const GREP_SIZE_LIMIT: usize = 1 << 20;

/// One `[top] skip` entry: an exact frame name, or a prefix followed by `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramePattern {
    /// Matches this frame only.
    Exact(String),
    /// Matches every frame starting with this text.
    Prefix(String),
}

impl FramePattern {
    /// Parse one pattern; the error says what is allowed.
    pub fn parse(pattern: &str) -> Result<FramePattern, String> {
        if pattern.contains(';') {
            return Err(format!(
                "{pattern:?} contains ';', which separates frames: give one frame name"
            ));
        }
        match pattern.strip_suffix('*') {
            Some("") => Err(
                "\"*\" would skip every frame: name frames, or a prefix such as \"Excimer*\""
                    .into(),
            ),
            Some(prefix) if prefix.contains('*') => Err(format!(
                "{pattern:?}: '*' is only allowed once, at the end (a prefix)"
            )),
            Some(prefix) => Ok(FramePattern::Prefix(prefix.to_owned())),
            None if pattern.is_empty() => Err("an empty frame name matches nothing".into()),
            None if pattern.contains('*') => Err(format!(
                "{pattern:?}: '*' is only allowed once, at the end (a prefix)"
            )),
            None => Ok(FramePattern::Exact(pattern.to_owned())),
        }
    }

    fn matches(&self, frame: &[u8]) -> bool {
        match self {
            FramePattern::Exact(name) => frame == name.as_bytes(),
            FramePattern::Prefix(prefix) => frame.starts_with(prefix.as_bytes()),
        }
    }
}

/// The frames to look through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skip(Vec<FramePattern>);

impl Skip {
    /// Parse `[top] skip`; the error names the bad entry.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Skip, String> {
        patterns
            .iter()
            .map(|p| FramePattern::parse(p.as_ref()))
            .collect::<Result<_, _>>()
            .map(Skip)
    }

    fn matches(&self, frame: &[u8]) -> bool {
        self.0.iter().any(|p| p.matches(frame))
    }

    /// The function a stack counts for: the leaf frame after skipping matching frames from
    /// the leaf towards the root. A stack made only of skipped frames counts for its leaf.
    pub fn function_of<'a>(&self, stack: &'a [u8]) -> &'a [u8] {
        let mut frames = stack.rsplit(|&b| b == b';');
        let leaf = frames.next().unwrap_or(stack);
        if !self.matches(leaf) {
            return leaf;
        }
        frames.find(|f| !self.matches(f)).unwrap_or(leaf)
    }
}

/// Which rows to return.
#[derive(Debug, Clone)]
pub struct Query {
    /// Only functions matching this expression (percentages stay shares of all samples).
    pub grep: Option<Regex>,
    /// Most rows returned.
    pub limit: usize,
}

/// A query parameter out of bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// `grep` is not a valid regular expression, or too large.
    #[error("grep: {0}")]
    Grep(String),
    /// `limit` is 0 or above [`MAX_LIMIT`].
    #[error("limit must be between 1 and {MAX_LIMIT} (got {0})")]
    Limit(usize),
}

impl Query {
    /// Check and compile the user's `grep` and `limit`.
    pub fn new(grep: Option<&str>, limit: usize) -> Result<Query, QueryError> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(QueryError::Limit(limit));
        }
        let grep = match grep.filter(|g| !g.is_empty()) {
            None => None,
            Some(g) if g.len() > MAX_GREP_BYTES => {
                return Err(QueryError::Grep(format!(
                    "expression longer than {MAX_GREP_BYTES} bytes"
                )))
            }
            Some(g) => Some(
                regex::RegexBuilder::new(g)
                    .size_limit(GREP_SIZE_LIMIT)
                    .build()
                    .map_err(|e| QueryError::Grep(e.to_string()))?,
            ),
        };
        Ok(Query { grep, limit })
    }
}

/// One function of the leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The frame, as in the stacks (sanitized to printable ASCII).
    pub function: String,
    /// Samples with this function on CPU.
    pub samples: u64,
    /// Share of all samples of the window, in percent.
    pub percent: f64,
}

/// The leaderboard of one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leaderboard {
    /// Samples in the window (the 100 %).
    pub total_samples: u64,
    /// Distinct functions on CPU (before `grep` and `limit`).
    pub functions: usize,
    /// Distinct functions matching `grep` (before `limit`).
    pub matching_functions: usize,
    /// Samples of the matching functions.
    pub matching_samples: u64,
    /// Most samples first; ties by name.
    pub rows: Vec<Row>,
}

/// Samples per function on CPU, counted one stack at a time: what the leaderboard ranks
/// and what a window's function totals ([`crate::graphs::trend`]) store.
#[derive(Debug, Default)]
pub struct FunctionCounter {
    by_function: HashMap<Vec<u8>, u64>,
    samples: u64,
}

impl FunctionCounter {
    /// Count `count` samples of `stack` for its function ([`Skip::function_of`]).
    pub fn add(&mut self, stack: &[u8], count: u64, skip: &Skip) {
        // Counts come from stored logs, where they may be anything up to u64::MAX.
        self.samples = self.samples.saturating_add(count);
        let function = skip.function_of(stack);
        match self.by_function.get_mut(function) {
            Some(total) => *total = total.saturating_add(count),
            None => {
                self.by_function.insert(function.to_vec(), count);
            }
        }
    }

    /// All samples, and (function, samples) most samples first, ties by name.
    pub fn finish(self) -> (u64, Vec<(String, u64)>) {
        let mut functions: Vec<(String, u64)> = self
            .by_function
            .into_iter()
            .map(|(name, n)| (String::from_utf8_lossy(&name).into_owned(), n))
            .collect();
        functions.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        (self.samples, functions)
    }
}

/// Count each stack's samples for its function and rank the functions.
pub fn leaderboard<'a>(
    stacks: impl IntoIterator<Item = (&'a [u8], u64)>,
    skip: &Skip,
    query: &Query,
) -> Leaderboard {
    let mut counter = FunctionCounter::default();
    for (stack, count) in stacks {
        counter.add(stack, count, skip);
    }
    let (total_samples, by_function) = counter.finish();
    let functions = by_function.len();
    // Already ranked: filtering keeps the order.
    let mut rows: Vec<Row> = by_function
        .into_iter()
        .filter(|(function, _)| query.grep.as_ref().is_none_or(|re| re.is_match(function)))
        .map(|(function, samples)| Row {
            function,
            samples,
            percent: percent(samples, total_samples),
        })
        .collect();
    let matching_functions = rows.len();
    let matching_samples = rows
        .iter()
        .fold(0u64, |sum, row| sum.saturating_add(row.samples));
    rows.truncate(query.limit);
    Leaderboard {
        total_samples,
        functions,
        matching_functions,
        matching_samples,
        rows,
    }
}

fn percent(part: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    part as f64 * 100.0 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACKS: &[(&str, u64)] = &[
        ("index.php;MediaWiki::run;Parser::parse", 5),
        ("index.php;MediaWiki::run;Parser::parse;Sanitizer::clean", 3),
        (
            "index.php;MediaWiki::run;Parser::parse;{closure};ExcimerLog::formatCollapsed",
            1,
        ),
        ("index.php;MediaWiki::run;Database::query;Redis::publish", 2),
        ("api.php;ApiMain::execute;Database::query", 4),
        ("api.php;ApiMain::execute;<script>alert(1)</script>", 5),
    ];

    fn board(skip: &[&str], grep: Option<&str>, limit: usize) -> Leaderboard {
        let skip = Skip::parse(skip).unwrap();
        let query = Query::new(grep, limit).unwrap();
        leaderboard(
            STACKS.iter().map(|(s, c)| (s.as_bytes(), *c)),
            &skip,
            &query,
        )
    }

    fn rows(board: &Leaderboard) -> Vec<(&str, u64, f64)> {
        board
            .rows
            .iter()
            .map(|r| (r.function.as_str(), r.samples, r.percent))
            .collect()
    }

    #[test]
    fn counts_from_stored_logs_saturate_instead_of_overflowing() {
        let skip = Skip::parse(DEFAULT_SKIP).unwrap();
        let query = Query::new(None, 10).unwrap();
        let stacks = [(&b"a;f"[..], u64::MAX), (b"b;f", 5), (b"c;g", 1)];
        let b = leaderboard(stacks, &skip, &query);
        assert_eq!(b.total_samples, u64::MAX);
        assert_eq!(b.rows[0].function, "f");
        assert_eq!(b.rows[0].samples, u64::MAX);
    }

    #[test]
    fn counts_leaf_frames_after_skipping_with_exact_percentages() {
        let b = board(DEFAULT_SKIP, None, 10);
        assert_eq!(b.total_samples, 20);
        assert_eq!(b.functions, 5);
        assert_eq!(
            rows(&b),
            vec![
                ("Database::query", 6, 30.0),
                ("<script>alert(1)</script>", 5, 25.0),
                ("Parser::parse", 5, 25.0),
                ("Sanitizer::clean", 3, 15.0),
                ("{closure}", 1, 5.0),
            ]
        );
    }

    #[test]
    fn without_skipping_the_flush_frames_are_leaves() {
        let b = board(&[], None, 10);
        assert_eq!(b.functions, 6);
        assert!(rows(&b).contains(&("Redis::publish", 2, 10.0)));
        assert!(rows(&b).contains(&("ExcimerLog::formatCollapsed", 1, 5.0)));
        assert!(rows(&b).contains(&("Database::query", 4, 20.0)));
    }

    #[test]
    fn prefix_patterns_skip_several_frames_in_a_row() {
        let b = board(&["ExcimerLog::*", "{closure}"], None, 10);
        assert!(rows(&b).contains(&("Parser::parse", 6, 30.0)));
        // A stack of skipped frames only counts for its leaf.
        let skip = Skip::parse(&["a*"]).unwrap();
        assert_eq!(skip.function_of(b"a1;a2"), b"a2");
        assert_eq!(skip.function_of(b"b;a1;a2"), b"b");
        assert_eq!(skip.function_of(b"solo"), b"solo");
    }

    #[test]
    fn grep_and_limit_keep_shares_of_all_samples() {
        let b = board(DEFAULT_SKIP, Some("^(Parser|Database)::"), 1);
        assert_eq!(b.matching_functions, 2);
        assert_eq!(b.matching_samples, 11);
        assert_eq!(rows(&b), vec![("Database::query", 6, 30.0)]);
        assert_eq!(b.total_samples, 20);
    }

    #[test]
    fn bad_queries_and_patterns_are_refused_with_reasons() {
        assert_eq!(Query::new(None, 0).unwrap_err(), QueryError::Limit(0));
        assert_eq!(
            Query::new(None, MAX_LIMIT + 1).unwrap_err(),
            QueryError::Limit(MAX_LIMIT + 1)
        );
        assert!(matches!(Query::new(Some("("), 5), Err(QueryError::Grep(_))));
        assert!(matches!(
            Query::new(Some(&"a".repeat(MAX_GREP_BYTES + 1)), 5),
            Err(QueryError::Grep(_))
        ));
        assert!(matches!(
            Query::new(Some("a{1000}{1000}"), 5),
            Err(QueryError::Grep(_))
        ));
        for bad in ["*", "", "a;b", "a*b", "*a*"] {
            assert!(FramePattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_empty_window_has_an_empty_board() {
        let b = leaderboard(
            std::iter::empty(),
            &Skip::default(),
            &Query::new(None, 5).unwrap(),
        );
        assert_eq!((b.total_samples, b.functions, b.rows.len()), (0, 0, 0));
    }
}
