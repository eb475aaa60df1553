//! Trends: one function's share of each window's samples over many windows (up to two years
//! of days), as a line chart and a JSON series. Answered from *function totals*, a small
//! companion the renderer writes beside each log, so a trend never decompresses a log:
//!
//! ```text
//! logs/{period}/{window}.{channel}.{entry}.functions.gz   (path: crate::store::catalogue::function_totals_path)
//!
//! arclamp-functions 1 samples=N log_bytes=B
//! COUNT FUNCTION        one line per function on CPU, most samples first
//! ```
//!
//! A function's samples are those the leaderboard ([`crate::graphs::top`]) counts for it:
//! each sample for its leaf frame after `[top] skip`, as the skip list was when the window
//! was rendered. `log_bytes` is the size of the log they were counted from: totals older
//! than their log are not used. Pure: callers read and write the files.

use std::fmt::Write as _;
use std::io::Write as _;

use serde::{Deserialize, Serialize};

use crate::graphs::top::{FunctionCounter, Skip};
use crate::store::compress;

const MAGIC: &str = "arclamp-functions 1";

/// Function totals that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TotalsError {
    /// Not gzip.
    #[error(transparent)]
    Gunzip(#[from] compress::GunzipError),
    /// Not function totals of this version.
    #[error("not arclamp function totals (version 1): {0}")]
    Format(String),
}

/// One window's samples per function on CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionTotals {
    /// Samples in the window.
    pub samples: u64,
    /// Size of the log they were counted from.
    pub log_bytes: u64,
    /// (function, samples), most samples first, ties by name.
    pub functions: Vec<(String, u64)>,
}

impl FunctionTotals {
    /// Count `stacks` (`STACK`, count) for their function on CPU, as the leaderboard does.
    pub fn count<'a>(
        stacks: impl IntoIterator<Item = (&'a [u8], u64)>,
        skip: &Skip,
        log_bytes: u64,
    ) -> FunctionTotals {
        let mut counter = FunctionCounter::default();
        for (stack, count) in stacks {
            counter.add(stack, count, skip);
        }
        FunctionTotals::of(counter, log_bytes)
    }

    /// The totals `counter` holds, counted from a log of `log_bytes`.
    pub fn of(counter: FunctionCounter, log_bytes: u64) -> FunctionTotals {
        let (samples, functions) = counter.finish();
        FunctionTotals {
            samples,
            log_bytes,
            functions,
        }
    }

    /// The stored, gzip'd form.
    pub fn encode(&self) -> Vec<u8> {
        let mut text = format!(
            "{MAGIC} samples={} log_bytes={}\n",
            self.samples, self.log_bytes
        );
        for (name, count) in &self.functions {
            // A function name never holds a newline: stacks are lines.
            let _ = writeln!(text, "{count} {name}");
        }
        let mut out = compress::gzip_writer(text.len() / 6 + 64);
        // Writing into a Vec cannot fail.
        let _ = out.write_all(text.as_bytes());
        out.finish().unwrap_or_default()
    }

    /// Read stored totals.
    pub fn decode(bytes: &[u8]) -> Result<FunctionTotals, TotalsError> {
        let bad = |what: &str| TotalsError::Format(what.to_owned());
        let text = compress::maybe_gunzip(bytes)?;
        let text = std::str::from_utf8(&text).map_err(|_| bad("not UTF-8"))?;
        let mut lines = text.lines();
        let header = lines
            .next()
            .and_then(|h| h.strip_prefix(MAGIC))
            .ok_or_else(|| bad("unknown header"))?;
        let (mut samples, mut log_bytes) = (None, None);
        for field in header.split_ascii_whitespace() {
            match field.split_once('=') {
                Some(("samples", v)) => samples = v.parse().ok(),
                Some(("log_bytes", v)) => log_bytes = v.parse().ok(),
                _ => {}
            }
        }
        let mut functions = Vec::new();
        for line in lines {
            let (count, name) = line
                .split_once(' ')
                .ok_or_else(|| bad("a line is not COUNT FUNCTION"))?;
            let count = count.parse().map_err(|_| bad("a count is not a number"))?;
            functions.push((name.to_owned(), count));
        }
        Ok(FunctionTotals {
            samples: samples.ok_or_else(|| bad("no samples="))?,
            log_bytes: log_bytes.ok_or_else(|| bad("no log_bytes="))?,
            functions,
        })
    }

    /// Samples of `function` (0 when it never was on CPU).
    pub fn samples_of(&self, function: &str) -> u64 {
        self.functions
            .iter()
            .find(|(name, _)| name == function)
            .map_or(0, |(_, n)| *n)
    }
}

/// One window of a trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The window's name.
    pub window: String,
    /// The function's samples; `None` when the window's totals could not be read (a
    /// window rendered before function totals existed, or not rendered yet).
    pub samples: Option<u64>,
    /// All samples of the window (when known).
    pub total: Option<u64>,
    /// `samples` in percent of `total`.
    pub percent: Option<f64>,
}

impl Point {
    /// The point of `window` from its totals, if any.
    pub fn of(window: &str, function: &str, totals: Option<&FunctionTotals>) -> Point {
        match totals {
            Some(totals) => {
                let samples = totals.samples_of(function);
                Point {
                    window: window.to_owned(),
                    samples: Some(samples),
                    total: Some(totals.samples),
                    percent: Some(if totals.samples == 0 {
                        0.0
                    } else {
                        samples as f64 * 100.0 / totals.samples as f64
                    }),
                }
            }
            None => Point {
                window: window.to_owned(),
                samples: None,
                total: None,
                percent: None,
            },
        }
    }
}

/// A small SVG line chart of the points' percentages (gaps where unknown), `width` x
/// `height` pixels, with the largest share marked on the y axis.
pub fn chart_svg(points: &[Point], width: u32, height: u32) -> String {
    let (left, right, top, bottom) = (56.0, 8.0, 10.0, 24.0);
    let plot_w = f64::from(width) - left - right;
    let plot_h = f64::from(height) - top - bottom;
    let max = points
        .iter()
        .filter_map(|p| p.percent)
        .fold(0.0f64, f64::max)
        .max(0.001);
    let x = |i: usize| {
        if points.len() <= 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (points.len() - 1) as f64
        }
    };
    let y = |percent: f64| top + plot_h * (1.0 - percent / max);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"trend\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">"
    );
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{b}\" stroke=\"#888\"/><line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#888\"/>",
        b = top + plot_h,
        r = left + plot_w
    );
    let _ = write!(
        svg,
        "<text x=\"{tx}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"end\">{max:.2} %</text><text x=\"{tx}\" y=\"{b}\" font-size=\"11\" text-anchor=\"end\">0 %</text>",
        tx = left - 4.0,
        ty = top + 10.0,
        b = top + plot_h
    );
    // One polyline per run of known points, so unknown windows show as gaps.
    let mut run: Vec<String> = Vec::new();
    let flush = |run: &mut Vec<String>, svg: &mut String| {
        if run.len() == 1 {
            let _ = write!(
                svg,
                "<circle cx=\"{}\" r=\"2\" fill=\"#c33\"/>",
                run[0].replace(',', "\" cy=\"")
            );
        } else if run.len() > 1 {
            let _ = write!(
                svg,
                "<polyline fill=\"none\" stroke=\"#c33\" stroke-width=\"1.5\" points=\"{}\"/>",
                run.join(" ")
            );
        }
        run.clear();
    };
    for (i, point) in points.iter().enumerate() {
        match point.percent {
            Some(percent) => run.push(format!("{:.1},{:.1}", x(i), y(percent))),
            None => flush(&mut run, &mut svg),
        }
    }
    flush(&mut run, &mut svg);
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = write!(
            svg,
            "<text x=\"{left}\" y=\"{h}\" font-size=\"11\">{}</text><text x=\"{r}\" y=\"{h}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            first.window.replace('_', " "),
            last.window.replace('_', " "),
            h = f64::from(height) - 6.0,
            r = left + plot_w
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip() -> Skip {
        Skip::parse(&["ExcimerLog::*"]).unwrap()
    }

    #[test]
    fn totals_count_what_the_leaderboard_counts_and_read_back() {
        let stacks: [(&[u8], u64); 4] = [
            (b"index.php;Parser::parse", 6),
            (b"index.php;Parser::parse;ExcimerLog::flush", 2),
            (b"api.php;Database::query", 3),
            (b"api.php;Parser::parse", 1),
        ];
        let totals = FunctionTotals::count(stacks, &skip(), 1234);
        assert_eq!(totals.samples, 12);
        assert_eq!(
            totals.functions,
            [
                ("Parser::parse".to_owned(), 9),
                ("Database::query".to_owned(), 3)
            ]
        );
        let query = crate::graphs::top::Query::new(None, 50).unwrap();
        let board = crate::graphs::top::leaderboard(stacks, &skip(), &query);
        for row in &board.rows {
            assert_eq!(totals.samples_of(&row.function), row.samples);
        }
        assert_eq!(FunctionTotals::decode(&totals.encode()).unwrap(), totals);
        assert_eq!(totals.samples_of("Nobody::ran"), 0);
    }

    #[test]
    fn damaged_or_foreign_totals_are_errors_not_panics() {
        for bytes in [
            &b"\x1f\x8b not gzip"[..],
            b"arclamp-range-summary 1 samples=1\n",
            b"arclamp-functions 1 samples=3\n1 a\n",
            b"arclamp-functions 1 samples=3 log_bytes=1\nmany a\n",
        ] {
            assert!(FunctionTotals::decode(bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn a_chart_draws_known_points_and_leaves_gaps() {
        let totals = FunctionTotals::count([(&b"a;f"[..], 1), (b"a;g", 3)], &skip(), 1);
        let points = vec![
            Point::of("2026-01-01", "f", Some(&totals)),
            Point::of("2026-01-02", "f", Some(&totals)),
            Point::of("2026-01-03", "f", None),
            Point::of("2026-01-04", "g", Some(&totals)),
        ];
        assert_eq!(points[0].percent, Some(25.0));
        assert_eq!(points[2].samples, None);
        let svg = chart_svg(&points, 600, 200);
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(svg.contains("75.00 %") && svg.contains("2026-01-04"));
    }
}
