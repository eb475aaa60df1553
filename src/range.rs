//! Range graphs: which windows of one period a range `from..=to` covers (bounded by
//! `on_demand.max_range_windows`), and merging their trace logs into one set of stacks.
//! Pure: callers read the logs and render the result.

use std::io;

use crate::compress;
use crate::folded::{CountedStacks, StackCounter};
use crate::window::{Period, Window};

/// A range that cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// `from` or `to` is not a window name of the period.
    #[error("{which}={name:?} is not a {period} window name (format {format})")]
    NotAWindow {
        /// `from` or `to`.
        which: &'static str,
        /// The name given.
        name: String,
        /// The period.
        period: String,
        /// Its strftime format.
        format: String,
    },
    /// `from` is after `to`.
    #[error("from={from} is after to={to}: give the earlier window first")]
    Backwards {
        /// The start given.
        from: String,
        /// The end given.
        to: String,
    },
    /// More windows than allowed.
    #[error("the range covers more than {max} windows (on_demand.max_range_windows): ask for a shorter range")]
    TooLong {
        /// The limit.
        max: usize,
    },
}

/// The windows from `from` to `to`, both included, oldest first.
pub fn windows_between(
    period: &Period,
    from: &str,
    to: &str,
    max_windows: usize,
) -> Result<Vec<Window>, RangeError> {
    let named = |which: &'static str, name: &str| {
        period
            .window_named(name)
            .ok_or_else(|| RangeError::NotAWindow {
                which,
                name: name.to_owned(),
                period: period.name().to_owned(),
                format: period.format().to_owned(),
            })
    };
    let first = named("from", from)?;
    let last = named("to", to)?;
    if first.start > last.start {
        return Err(RangeError::Backwards {
            from: from.to_owned(),
            to: to.to_owned(),
        });
    }
    let mut windows = vec![first];
    while let Some(current) = windows.last() {
        if current.start >= last.start {
            break;
        }
        if windows.len() >= max_windows {
            return Err(RangeError::TooLong { max: max_windows });
        }
        let next = period.window_at(current.end);
        windows.push(next);
    }
    Ok(windows)
}

/// Merge trace logs (gzip'd or plain `STACK COUNT` text) into one set of distinct stacks
/// with summed counts, sorted as a renderer needs them. Each log is decompressed as it is
/// read, so only the distinct stacks are held in memory.
pub fn merge<'a>(logs: impl IntoIterator<Item = &'a [u8]>) -> io::Result<CountedStacks> {
    let mut counter = StackCounter::new();
    for log in logs {
        if compress::is_gzip(log) {
            let decoder = flate2::bufread::MultiGzDecoder::new(log);
            counter.read_lines(io::BufReader::with_capacity(1 << 18, decoder))?;
        } else {
            counter.read_lines(log)?;
        }
    }
    Ok(counter.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daily() -> Period {
        Period::new("daily", "%Y-%m-%d").unwrap()
    }

    fn names(windows: &[Window]) -> Vec<&str> {
        windows.iter().map(|w| w.name.as_str()).collect()
    }

    #[test]
    fn a_week_of_daily_windows_across_a_month_end() {
        let windows = windows_between(&daily(), "2026-11-28", "2026-12-04", 62).unwrap();
        assert_eq!(
            names(&windows),
            vec![
                "2026-11-28",
                "2026-11-29",
                "2026-11-30",
                "2026-12-01",
                "2026-12-02",
                "2026-12-03",
                "2026-12-04"
            ]
        );
        let one = windows_between(&daily(), "2026-11-28", "2026-11-28", 1).unwrap();
        assert_eq!(names(&one), vec!["2026-11-28"]);
    }

    #[test]
    fn bad_ranges_are_refused_with_reasons() {
        assert_eq!(
            windows_between(&daily(), "2026-11-01", "2026-11-08", 7),
            Err(RangeError::TooLong { max: 7 })
        );
        assert!(windows_between(&daily(), "2026-11-01", "2026-11-07", 7).is_ok());
        assert!(matches!(
            windows_between(&daily(), "2026-11-08", "2026-11-01", 62),
            Err(RangeError::Backwards { .. })
        ));
        assert!(matches!(
            windows_between(&daily(), "../etc", "2026-11-01", 62),
            Err(RangeError::NotAWindow { which: "from", .. })
        ));
        assert!(matches!(
            windows_between(&daily(), "2026-11-01", "2026-11-01_05", 62),
            Err(RangeError::NotAWindow { which: "to", .. })
        ));
        // A range of two years is refused without walking it.
        assert_eq!(
            windows_between(&daily(), "2000-01-01", "9999-12-31", 62),
            Err(RangeError::TooLong { max: 62 })
        );
    }

    #[test]
    fn merging_sums_counts_of_equal_stacks() {
        let gzipped = compress::gzip(b"a;b 3\nd 4\n");
        let merged = merge([&b"a;b 2\na;c 1\n"[..], &gzipped[..]]).unwrap();
        assert_eq!(
            merged.stacks(),
            vec![(&b"a;b"[..], 5), (&b"a;c"[..], 1), (&b"d"[..], 4)]
        );
    }
}
