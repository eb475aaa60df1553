//! The one clock all of arclamp reads "now" from.
//!
//! Windows, rollover, retention and `max_age` all follow this clock, never the system time
//! directly, so tests can start it at any instant and run it faster than real time (the
//! `[clock]` config table) and check an hour's rollover in a second.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// A wall clock that may start at a chosen instant and run at a chosen speed.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin_instant: Instant,
    origin_time: DateTime<Utc>,
    speed: f64,
}

impl Clock {
    /// The real UTC time.
    pub fn system() -> Self {
        Clock::new(None, 1.0)
    }

    /// A clock that reads `start` (or the real time when `None`) now, and advances `speed`
    /// seconds per real second.
    pub fn new(start: Option<DateTime<Utc>>, speed: f64) -> Self {
        Clock {
            origin_instant: Instant::now(),
            origin_time: start.unwrap_or_else(Utc::now),
            speed,
        }
    }

    /// The current time on this clock.
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = self.origin_instant.elapsed().as_secs_f64() * self.speed;
        let elapsed = Duration::try_from_secs_f64(elapsed)
            .ok()
            .and_then(|elapsed| chrono::Duration::from_std(elapsed).ok())
            .unwrap_or(chrono::Duration::MAX);
        self.origin_time
            .checked_add_signed(elapsed)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// How fast this clock runs relative to real time.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// The real duration until this clock reads `at` (zero when already past).
    pub fn real_duration_until(&self, at: DateTime<Utc>) -> Duration {
        let clock_delta = (at - self.now()).to_std().unwrap_or(Duration::ZERO);
        Duration::try_from_secs_f64(clock_delta.as_secs_f64() / self.speed).unwrap_or(Duration::MAX)
    }
}

/// A number that no other process, and no earlier call in this one, is likely to pick:
/// for names that must not collide (segment objects, lease tokens, handover markers).
pub fn nonce() -> u64 {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    xxhash_rust::xxh3::xxh3_64(
        format!(
            "{}-{call}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        )
        .as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_speeds_saturate_instead_of_panicking() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let fast = Clock::new(Some(start), 1e300);
        std::thread::sleep(Duration::from_millis(1));
        assert_eq!(fast.now(), DateTime::<Utc>::MAX_UTC);
        let slow = Clock::new(Some(start), 1e-300);
        let later = start + chrono::Duration::days(1);
        assert_eq!(slow.real_duration_until(later), Duration::MAX);
    }

    #[test]
    fn a_fast_clock_starts_where_told_and_runs_ahead() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::new(Some(start), 3600.0);
        assert!(clock.now() >= start);
        std::thread::sleep(Duration::from_millis(20));
        // 20 ms at 3600x is 72 s of clock time.
        assert!(clock.now() - start >= chrono::Duration::seconds(72));
    }

    #[test]
    fn real_duration_until_divides_by_speed() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::new(Some(start), 3600.0);
        let wait = clock.real_duration_until(start + chrono::Duration::hours(1));
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
    }
}
