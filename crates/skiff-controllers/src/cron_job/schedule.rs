//! Cron schedules as CronJobs use them (robfig/cron's standard parser): five fields
//! (minute hour day-of-month month day-of-week) with lists, ranges, steps and month/day
//! names, the @yearly…@hourly macros and @every; evaluated in a time zone, DST included.

use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use skiff_validation::cron::{self, CronFields, CronSchedule};
use thiserror::Error;

/// Why a schedule does not parse.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ScheduleError {
    /// The text is not a valid schedule (robfig/cron's wording).
    #[error("{0}")]
    Invalid(String),
}

/// A parsed schedule (skiff-validation's parser, which validation also uses, so what the
/// API accepts and what the controller runs never disagree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Matching on calendar fields.
    Fields(CronFields),
    /// `@every <duration>`: a fixed period.
    Every(SignedDuration),
}

/// How far ahead to look for a matching time (robfig gives up after five years, so
/// "0 0 30 2 *" never fires).
const SEARCH_YEARS: i16 = 5;

impl Schedule {
    /// Parse a standard schedule.
    pub fn parse(spec: &str) -> Result<Schedule, ScheduleError> {
        match cron::parse(spec) {
            Ok(CronSchedule::Fields(f)) => Ok(Schedule::Fields(f)),
            Ok(CronSchedule::Every(d)) => SignedDuration::try_from(d)
                .map(Schedule::Every)
                .map_err(|e| ScheduleError::Invalid(e.to_string())),
            Err(e) => Err(ScheduleError::Invalid(e.to_string())),
        }
    }

    /// The first activation strictly after `after`, evaluated in `tz`; None when the
    /// schedule never fires again.
    pub fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match self {
            Schedule::Every(d) => {
                let whole = Timestamp::from_second(after.as_second()).ok()?;
                whole.checked_add(*d).ok()
            }
            Schedule::Fields(f) => next_matching(f, after, tz),
        }
    }
}

fn day_matches(f: &CronFields, dt: DateTime) -> bool {
    let dom = bit(f.dom, dt.day() as u32);
    let dow = bit(f.dow, dt.weekday().to_sunday_zero_offset() as u32);
    if f.dom_star || f.dow_star {
        dom && dow
    } else {
        dom || dow
    }
}

fn next_matching(f: &CronFields, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let local = after.to_zoned(tz.clone()).datetime();
    let mut dt = local
        .with()
        .second(0)
        .subsec_nanosecond(0)
        .build()
        .ok()?
        .checked_add(1.minute())
        .ok()?;
    let limit = local.year().saturating_add(SEARCH_YEARS);
    while dt.year() <= limit {
        if !bit(f.month, dt.month() as u32) {
            dt = dt
                .date()
                .first_of_month()
                .checked_add(1.month())
                .ok()?
                .to_datetime(Time::midnight());
            continue;
        }
        if !day_matches(f, dt) {
            dt = dt.date().tomorrow().ok()?.to_datetime(Time::midnight());
            continue;
        }
        if !bit(f.hour, dt.hour() as u32) {
            dt = dt
                .with()
                .minute(0)
                .build()
                .ok()?
                .checked_add(1.hour())
                .ok()?;
            continue;
        }
        if !bit(f.minute, dt.minute() as u32) {
            dt = dt.checked_add(1.minute()).ok()?;
            continue;
        }
        // A wall time skipped by a DST jump runs at the same offset after the jump;
        // a repeated one runs at its first occurrence only.
        let at = tz.to_ambiguous_zoned(dt).compatible().ok()?.timestamp();
        if at > after {
            return Some(at);
        }
        dt = dt.checked_add(1.minute()).ok()?;
    }
    None
}

fn bit(set: u64, i: u32) -> bool {
    i < 64 && set & (1 << i) != 0
}

/// How the schedule's activations relate to `now` since `earliest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missed {
    /// The most recent activation at or before `now`, if any happened after `earliest`.
    pub most_recent: Option<Timestamp>,
    /// More than 100 activations were missed (upstream warns TooManyMissedTimes).
    pub too_many: bool,
}

/// The latest activation in (`earliest`, `now`] (upstream's mostRecentScheduleTime).
pub fn most_recent(s: &Schedule, tz: &TimeZone, earliest: Timestamp, now: Timestamp) -> Missed {
    let mut count = 0u32;
    let mut last = None;
    let mut t = earliest;
    let mut widest = SignedDuration::ZERO;
    while let Some(n) = s.next(t, tz) {
        if n > now {
            return Missed {
                most_recent: last,
                too_many: false,
            };
        }
        if let Some(prev) = last {
            widest = widest.max(n.duration_since(prev));
        }
        count += 1;
        last = Some(n);
        t = n;
        if count > 100 {
            break;
        }
    }
    if count <= 100 {
        return Missed {
            most_recent: last,
            too_many: false,
        };
    }
    // Many were missed: only the latest matters, so search from shortly before now.
    let from = now
        .checked_sub(widest.saturating_mul(2))
        .unwrap_or(earliest)
        .max(t);
    let mut t = from;
    let mut recent = last;
    while let Some(n) = s.next(t, tz) {
        if n > now {
            break;
        }
        recent = Some(n);
        t = n;
    }
    Missed {
        most_recent: recent,
        too_many: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn next(spec: &str, after: &str, tz: &str) -> String {
        let tz = TimeZone::get(tz).expect("zone");
        let s = Schedule::parse(spec).expect("schedule");
        s.next(ts(after), &tz)
            .map(|t| t.to_zoned(tz).to_string())
            .unwrap_or_default()
    }

    #[test]
    fn fields_lists_ranges_steps_names() {
        assert_eq!(
            next("*/15 * * * *", "2025-03-01T10:07:00Z", "UTC"),
            "2025-03-01T10:15:00+00:00[UTC]"
        );
        assert_eq!(
            next("0 9-17/4 * * MON-fri", "2025-03-01T10:00:00Z", "UTC"),
            "2025-03-03T09:00:00+00:00[UTC]"
        );
        assert_eq!(
            next("30 2 1,15 jan,Jul *", "2025-01-15T02:30:00Z", "UTC"),
            "2025-07-01T02:30:00+00:00[UTC]"
        );
        assert_eq!(
            next("5/20 * * * *", "2025-01-01T00:06:00Z", "UTC"),
            "2025-01-01T00:25:00+00:00[UTC]"
        );
        // Both day fields restricted: either matches (Vixie cron).
        assert_eq!(
            next("0 0 13 * 5", "2025-06-01T00:00:00Z", "UTC"),
            "2025-06-06T00:00:00+00:00[UTC]"
        );
        assert_eq!(
            next("@monthly", "2025-01-31T12:00:00Z", "UTC"),
            "2025-02-01T00:00:00+00:00[UTC]"
        );
        assert_eq!(
            next("@weekly", "2025-01-01T00:00:00Z", "UTC"),
            "2025-01-05T00:00:00+00:00[UTC]"
        );
        assert_eq!(
            next("@yearly", "2025-01-01T00:00:00Z", "UTC"),
            "2026-01-01T00:00:00+00:00[UTC]"
        );
        assert_eq!(
            next("@hourly", "2025-01-01T00:00:00Z", "UTC"),
            "2025-01-01T01:00:00+00:00[UTC]"
        );
        assert_eq!(next("0 0 30 2 *", "2025-01-01T00:00:00Z", "UTC"), "");
    }

    #[test]
    fn time_zones_and_dst() {
        assert_eq!(
            next("0 9 * * *", "2025-06-01T00:00:00Z", "America/New_York"),
            "2025-06-01T09:00:00-04:00[America/New_York]"
        );
        // 02:30 does not exist on 2025-03-09 in New York: it runs at 03:30 EDT.
        assert_eq!(
            next("30 2 * * *", "2025-03-09T05:00:00Z", "America/New_York"),
            "2025-03-09T03:30:00-04:00[America/New_York]"
        );
        // 01:30 happens twice on 2025-11-02: only the first one fires.
        assert_eq!(
            next("30 1 * * *", "2025-11-02T04:00:00Z", "America/New_York"),
            "2025-11-02T01:30:00-04:00[America/New_York]"
        );
        assert_eq!(
            next("30 1 * * *", "2025-11-02T05:30:00Z", "America/New_York"),
            "2025-11-03T01:30:00-05:00[America/New_York]"
        );
    }

    #[test]
    fn errors_use_robfig_wording() {
        let err = |s: &str| Schedule::parse(s).expect_err("invalid").to_string();
        assert_eq!(err("* * *"), "expected exactly 5 fields, found 3: [* * *]");
        assert_eq!(
            err("60 * * * *"),
            "end of range (60) above maximum (59): 60"
        );
        assert_eq!(err("@fortnightly"), "unrecognized descriptor: @fortnightly");
        assert_eq!(err("* * * * 7"), "end of range (7) above maximum (6): 7");
        assert_eq!(
            Schedule::parse("@every 1h30m"),
            Ok(Schedule::Every(SignedDuration::from_secs(5400)))
        );
    }

    #[test]
    fn missed_schedules() {
        let tz = TimeZone::UTC;
        let s = Schedule::parse("*/5 * * * *").expect("schedule");
        let m = most_recent(
            &s,
            &tz,
            ts("2025-01-01T00:00:00Z"),
            ts("2025-01-01T00:12:00Z"),
        );
        assert_eq!(m.most_recent, Some(ts("2025-01-01T00:10:00Z")));
        assert!(!m.too_many);
        let m = most_recent(
            &s,
            &tz,
            ts("2025-01-01T00:00:00Z"),
            ts("2025-01-01T00:04:00Z"),
        );
        assert_eq!(m.most_recent, None);
        let m = most_recent(
            &s,
            &tz,
            ts("2025-01-01T00:00:00Z"),
            ts("2025-01-03T00:01:00Z"),
        );
        assert_eq!(m.most_recent, Some(ts("2025-01-03T00:00:00Z")));
        assert!(m.too_many);
    }
}
