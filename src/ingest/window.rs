//! Periods and their windows.
//!
//! A period (`hourly`, `daily`, ...) is a strftime format; a window is one value of that
//! format, in UTC (`2026-11-24_18` for hourly). This module turns instants into windows,
//! window names back into their start and end, and rejects formats that cannot be
//! turned back (so retention can always order windows by time).

use chrono::format::{Parsed, StrftimeItems};
use chrono::{DateTime, Datelike, Months, TimeDelta, Utc};

/// A period format that arclamp cannot use, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// The format renders characters that are unsafe in file names and URLs.
    #[error("format {format:?} renders {rendered:?}: window names may only contain letters, digits, '_' and '-'")]
    UnsafeCharacters {
        /// The strftime format.
        format: String,
        /// What it rendered.
        rendered: String,
    },
    /// The format does not name its windows unambiguously.
    #[error("format {format:?} cannot be read back into a time (it needs at least %Y and fields from largest to smallest, e.g. %Y-%m-%d_%H)")]
    NotReversible {
        /// The strftime format.
        format: String,
    },
}

/// How long one window lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Fixed(TimeDelta),
    Months(u32),
}

/// A period: a named strftime format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    name: String,
    format: String,
    step: Step,
}

/// One window of a period.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    /// When the window starts (inclusive).
    pub start: DateTime<Utc>,
    /// When the window ends (exclusive).
    pub end: DateTime<Utc>,
    /// The window's name, as it appears in file names.
    pub name: String,
}

impl Window {
    /// The name as shown in titles: `_` becomes a space (`2026-11-24 18`).
    pub fn display_name(&self) -> String {
        self.name.replace('_', " ")
    }
}

impl Period {
    /// A period named `name` with strftime `format`, checked for safe, reversible names.
    pub fn new(name: &str, format: &str) -> Result<Self, WindowError> {
        let mut period = Period {
            name: name.to_owned(),
            format: format.to_owned(),
            step: Step::Fixed(TimeDelta::zero()),
        };
        let not_reversible = || WindowError::NotReversible {
            format: format.to_owned(),
        };
        // A few instants that exercise every field, including leap days and year ends.
        let probes = [
            "2024-02-29T23:59:59Z",
            "2026-12-31T23:30:00Z",
            "2026-01-01T00:00:00Z",
            "2026-07-15T12:34:56Z",
        ];
        let mut step = None;
        for probe in probes {
            let t = DateTime::parse_from_rfc3339(probe)
                .map_err(|_| not_reversible())?
                .with_timezone(&Utc);
            let rendered = period.render(t).ok_or_else(not_reversible)?;
            if rendered.is_empty()
                || !rendered
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(WindowError::UnsafeCharacters {
                    format: format.to_owned(),
                    rendered,
                });
            }
            let start = period.parse_start(&rendered).ok_or_else(not_reversible)?;
            if start > t || period.render(start).as_deref() != Some(rendered.as_str()) {
                return Err(not_reversible());
            }
            step = Some(
                period
                    .find_step(start, &rendered)
                    .ok_or_else(not_reversible)?,
            );
        }
        period.step = step.ok_or_else(not_reversible)?;
        Ok(period)
    }

    /// The period's name (`hourly`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The period's strftime format.
    pub fn format(&self) -> &str {
        &self.format
    }

    /// The window that contains instant `t`.
    pub fn window_at(&self, t: DateTime<Utc>) -> Window {
        // `new` proved that every rendered name parses back.
        let name = self.render(t).unwrap_or_default();
        let start = self.parse_start(&name).unwrap_or(t);
        Window {
            end: self.advance(start),
            start,
            name,
        }
    }

    /// The window with this name, or `None` when the name is not one of this period's.
    pub fn window_named(&self, name: &str) -> Option<Window> {
        let start = self.parse_start(name)?;
        (self.render(start).as_deref() == Some(name)).then(|| Window {
            end: self.advance(start),
            start,
            name: name.to_owned(),
        })
    }

    /// The window's position in the period's sequence of windows: consecutive windows have
    /// consecutive indexes, and index 0 starts at 1970-01-01 (windows of a fixed length) or
    /// in January of year 0 (windows of months). Roll-ups group windows by it.
    pub fn window_index(&self, window: &Window) -> i64 {
        match self.step {
            Step::Fixed(delta) => window
                .start
                .timestamp()
                .div_euclid(delta.num_seconds().max(1)),
            Step::Months(months) => {
                let month = i64::from(window.start.year()) * 12 + i64::from(window.start.month0());
                month.div_euclid(i64::from(months.max(1)))
            }
        }
    }

    /// The window at `index` (see [`Period::window_index`]); `None` past chrono's dates.
    pub fn window_with_index(&self, index: i64) -> Option<Window> {
        let start = match self.step {
            Step::Fixed(delta) => {
                DateTime::from_timestamp(index.checked_mul(delta.num_seconds().max(1))?, 0)?
            }
            Step::Months(months) => {
                let month = index.checked_mul(i64::from(months.max(1)))?;
                let year = i32::try_from(month.div_euclid(12)).ok()?;
                let month0 = u32::try_from(month.rem_euclid(12)).ok()?;
                chrono::NaiveDate::from_ymd_opt(year, month0 + 1, 1)?
                    .and_hms_opt(0, 0, 0)?
                    .and_utc()
            }
        };
        Some(self.window_at(start))
    }

    fn render(&self, t: DateTime<Utc>) -> Option<String> {
        use std::fmt::Write;
        let mut out = String::new();
        // An invalid format item makes Display fail instead of producing text.
        write!(
            out,
            "{}",
            t.format_with_items(StrftimeItems::new(&self.format))
        )
        .ok()?;
        Some(out)
    }

    fn parse_start(&self, name: &str) -> Option<DateTime<Utc>> {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, name, StrftimeItems::new(&self.format)).ok()?;
        parsed.year()?;
        // Fields the format leaves out take the start of the larger unit.
        if parsed.month().is_none() && parsed.ordinal().is_none() {
            parsed.set_month(1).ok()?;
        }
        if parsed.day().is_none() && parsed.ordinal().is_none() {
            parsed.set_day(1).ok()?;
        }
        if parsed.hour_div_12().is_none() {
            parsed.set_hour(0).ok()?;
        }
        if parsed.minute().is_none() {
            parsed.set_minute(0).ok()?;
        }
        if parsed.second().is_none() {
            parsed.set_second(0).ok()?;
        }
        parsed
            .to_naive_datetime_with_offset(0)
            .ok()
            .map(|naive| naive.and_utc())
    }

    /// The smallest natural unit after which the window's name changes.
    fn find_step(&self, start: DateTime<Utc>, name: &str) -> Option<Step> {
        let fixed = [
            TimeDelta::seconds(1),
            TimeDelta::minutes(1),
            TimeDelta::hours(1),
            TimeDelta::days(1),
        ];
        for delta in fixed {
            let next = self.render(start.checked_add_signed(delta)?)?;
            if next != name {
                return Some(Step::Fixed(delta));
            }
        }
        for months in [1, 12] {
            let next = self.render(start.checked_add_months(Months::new(months))?)?;
            if next != name {
                return Some(Step::Months(months));
            }
        }
        None
    }

    fn advance(&self, start: DateTime<Utc>) -> DateTime<Utc> {
        match self.step {
            // Names parsed from URLs and stored files reach chrono's last date.
            Step::Fixed(delta) => start
                .checked_add_signed(delta)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            Step::Months(months) => start
                .checked_add_months(Months::new(months))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_indexes_count_consecutive_windows_and_lead_back_to_them() {
        for (format, name, next) in [
            ("%Y-%m-%d", "2026-02-28", "2026-03-01"),
            ("%Y-%m-%d_%H", "2026-12-31_23", "2027-01-01_00"),
            ("%Y-%m", "2026-12", "2027-01"),
            ("%Y", "1969", "1970"),
        ] {
            let period = Period::new("p", format).unwrap();
            let window = period.window_named(name).unwrap();
            let index = period.window_index(&window);
            let following = period.window_named(next).unwrap();
            assert_eq!(period.window_index(&following), index + 1, "{format}");
            assert_eq!(period.window_with_index(index), Some(window), "{format}");
            assert_eq!(
                period.window_with_index(index + 1),
                Some(following),
                "{format}"
            );
        }
        let daily = Period::new("daily", "%Y-%m-%d").unwrap();
        assert_eq!(
            daily.window_index(&daily.window_named("1970-01-09").unwrap()),
            8
        );
        assert_eq!(daily.window_with_index(i64::MAX), None);
    }

    #[test]
    fn windows_at_the_end_of_time_end_there_instead_of_overflowing() {
        // `/go?date=+262143-12-31` and stored names can reach chrono's last date.
        let daily = Period::new("daily", "%Y-%m-%d").unwrap();
        let last_day = chrono::NaiveDate::MAX
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        let last = daily.window_at(last_day);
        assert_eq!(last.start, last_day);
        assert_eq!(last.end, DateTime::<Utc>::MAX_UTC);
        let hourly = Period::new("hourly", "%Y-%m-%d_%H").unwrap();
        let last = hourly.window_at(DateTime::<Utc>::MAX_UTC);
        assert_eq!(last.end, DateTime::<Utc>::MAX_UTC);
        assert!(last.start <= last.end);
        // The graph page links to the window before a week ago, from the start of time.
        let first = daily.window_at(DateTime::<Utc>::MIN_UTC);
        assert!(first.start <= first.end);
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn hourly_windows_start_on_the_hour() {
        let hourly = Period::new("hourly", "%Y-%m-%d_%H").unwrap();
        let w = hourly.window_at(at("2026-11-24T18:43:03Z"));
        assert_eq!(w.name, "2026-11-24_18");
        assert_eq!(w.start, at("2026-11-24T18:00:00Z"));
        assert_eq!(w.end, at("2026-11-24T19:00:00Z"));
        assert_eq!(w.display_name(), "2026-11-24 18");
    }

    #[test]
    fn daily_monthly_and_minutely_windows() {
        let daily = Period::new("daily", "%Y-%m-%d")
            .unwrap()
            .window_at(at("2024-02-29T23:59:59Z"));
        assert_eq!(
            (daily.start, daily.end),
            (at("2024-02-29T00:00:00Z"), at("2024-03-01T00:00:00Z"))
        );
        let monthly = Period::new("monthly", "%Y-%m")
            .unwrap()
            .window_at(at("2026-12-31T23:00:00Z"));
        assert_eq!(
            (monthly.start, monthly.end),
            (at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z"))
        );
        let minutely = Period::new("minutely", "%Y%m%dT%H%M")
            .unwrap()
            .window_at(at("2026-01-01T10:20:30Z"));
        assert_eq!(minutely.end - minutely.start, TimeDelta::minutes(1));
    }

    #[test]
    fn names_read_back_into_windows() {
        let hourly = Period::new("hourly", "%Y-%m-%d_%H").unwrap();
        let w = hourly.window_named("2026-11-24_18").unwrap();
        assert_eq!(w, hourly.window_at(at("2026-11-24T18:00:00Z")));
        assert_eq!(hourly.window_named("2026-11-24"), None);
        assert_eq!(hourly.window_named("../etc"), None);
    }

    #[test]
    fn rejects_unsafe_and_irreversible_formats() {
        assert!(matches!(
            Period::new("x", "%Y/%m"),
            Err(WindowError::UnsafeCharacters { .. })
        ));
        assert!(matches!(
            Period::new("x", "%Y.%m"),
            Err(WindowError::UnsafeCharacters { .. })
        ));
        assert!(matches!(
            Period::new("x", "%H"),
            Err(WindowError::NotReversible { .. })
        ));
        assert!(matches!(
            Period::new("x", "%d-%H"),
            Err(WindowError::NotReversible { .. })
        ));
        assert!(Period::new("x", "%Q").is_err());
    }
}
