//! Time as the limiter sees it: a [`Clock`] read once per admission (injectable, so tests
//! control time for both backends), and the UTC calendar windows that budgets count in.
//!
//! The Redis backend passes this clock's reading into its scripts instead of using Redis'
//! `TIME`, so every instance decides with its own clock: instances must keep their clocks
//! in sync (NTP), and skew between them shifts refills by the skew, nothing more.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) const MICROS_PER_SEC: u64 = 1_000_000;
const MICROS_PER_DAY: u64 = 86_400 * MICROS_PER_SEC;

/// A source of the current time in unix microseconds.
pub trait Clock: Send + Sync + 'static {
    fn now_micros(&self) -> u64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to: for tests and simulations.
#[derive(Debug)]
pub struct ManualClock {
    micros: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `unix_micros`.
    pub fn new(unix_micros: u64) -> ManualClock {
        ManualClock {
            micros: AtomicU64::new(unix_micros),
        }
    }

    /// A clock standing at the given UTC date and time.
    pub fn at_utc(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Self {
        let days = u64::try_from(days_from_civil(year, month, day)).unwrap_or(0);
        let seconds = u64::from(hour) * 3600 + u64::from(minute) * 60 + u64::from(second);
        ManualClock::new(days * MICROS_PER_DAY + seconds * MICROS_PER_SEC)
    }

    pub fn set(&self, unix_micros: u64) {
        self.micros.store(unix_micros, Ordering::SeqCst);
    }

    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_micros(&self) -> u64 {
        self.micros.load(Ordering::SeqCst)
    }
}

/// A budget's calendar window, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    Day,
    Month,
}

impl Window {
    /// The window containing `now`: its name (`2025-07-14` or `2025-07`, part of bucket
    /// keys) and the instant it ends, in unix microseconds.
    pub(crate) fn containing(self, now_micros: u64) -> (String, u64) {
        let days = i64::try_from(now_micros / MICROS_PER_DAY).unwrap_or(i64::MAX);
        let (y, m, d) = civil_from_days(days);
        match self {
            Window::Day => {
                let end = (now_micros / MICROS_PER_DAY + 1) * MICROS_PER_DAY;
                (format!("{y:04}-{m:02}-{d:02}"), end)
            }
            Window::Month => {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                let end_days = u64::try_from(days_from_civil(ny, nm, 1)).unwrap_or(0);
                (format!("{y:04}-{m:02}"), end_days * MICROS_PER_DAY)
            }
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Window::Day => "daily",
            Window::Month => "monthly",
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day number since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_calendar_round_trips() {
        for days in [-1, 0, 59, 365, 10_957, 19_000, 20_000, 60_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(
            days_from_civil(2024, 2, 29) + 1,
            days_from_civil(2024, 3, 1)
        );
    }

    #[test]
    fn limits_windows_end_at_utc_boundaries() {
        let clock = ManualClock::at_utc(2024, 12, 31, 23, 59, 59);
        let now = clock.now_micros();
        let (day, day_end) = Window::Day.containing(now);
        assert_eq!(day, "2024-12-31");
        assert_eq!(day_end - now, MICROS_PER_SEC);
        let (month, month_end) = Window::Month.containing(now);
        assert_eq!(month, "2024-12");
        assert_eq!(month_end, day_end);
        let feb = ManualClock::at_utc(2024, 2, 10, 0, 0, 0).now_micros();
        let (name, end) = Window::Month.containing(feb);
        assert_eq!(name, "2024-02");
        assert_eq!(end, ManualClock::at_utc(2024, 3, 1, 0, 0, 0).now_micros());
    }
}
