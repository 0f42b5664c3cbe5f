//! Where the scheduler's time comes from. Every rule that depends on time
//! (lease expiry, the grace period, cron and interval schedules) reads a
//! [`Clock`], so tests move time with a [`TestClock`] instead of sleeping.
//! Times are stored as whole microseconds since the Unix epoch, which
//! compare the same way on SQLite and PostgreSQL.

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug)]
pub struct TestClock {
    micros: AtomicI64,
}

impl TestClock {
    /// A clock showing `start`.
    pub fn new(start: OffsetDateTime) -> TestClock {
        TestClock { micros: AtomicI64::new(micros(start)) }
    }

    /// Move the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.micros.fetch_add(i64::try_from(by.as_micros()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }

    /// Set the clock to `to`.
    pub fn set(&self, to: OffsetDateTime) {
        self.micros.store(micros(to), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        from_micros(self.micros.load(Ordering::SeqCst))
    }
}

/// `t` as microseconds since the Unix epoch.
pub fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

/// Microseconds since the Unix epoch as a time (the epoch itself when out of range).
pub fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A duration in microseconds, saturating.
pub fn duration_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// An ISO 8601 time as clients send it: RFC 3339 (`2024-05-01T12:00:00Z`, `+02:00`), or without an offset
/// (`2024-05-01T12:00:00`, `2024-05-01 12:00:00.5`), which is read as UTC, as pydantic does.
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Some(t.to_offset(time::UtcOffset::UTC));
    }
    let naive = text.replacen(' ', "T", 1);
    let with_zone = if naive.len() == 10 { format!("{naive}T00:00:00Z") } else { format!("{naive}Z") };
    OffsetDateTime::parse(&with_zone, &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_moves_only_when_told() {
        let start = time::macros::datetime!(2024-05-01 10:00:00.123456 UTC);
        let clock = TestClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), time::macros::datetime!(2024-05-01 10:01:30.123456 UTC));
        assert_eq!(from_micros(micros(start)), start);
        clock.set(start);
        assert_eq!(clock.now(), start);
        assert_eq!(parse_time("2024-05-01T12:00:00+02:00"), Some(time::macros::datetime!(2024-05-01 10:00:00 UTC)));
        assert_eq!(parse_time("2024-05-01 10:00:00.123456"), Some(time::macros::datetime!(2024-05-01 10:00:00.123456 UTC)));
        assert_eq!(parse_time("2024-05-01"), Some(time::macros::datetime!(2024-05-01 00:00:00 UTC)));
        assert_eq!(parse_time("yesterday"), None);
    }
}
