//! The working calendar: which local hours count as working time, in the organisation's time zone.
//!
//! Contract: [`WorkingCalendar::working_seconds`] counts the seconds between two UTC instants that fall on a
//! working day (a configured weekday that is no public holiday and no closed date) between opening and closing
//! time, local time. Days are taken in the calendar's time zone, so opening hours stay at 09:00 local across a
//! daylight-saving change; a local opening time that does not exist on a spring-forward day moves to the first
//! existing instant after it, and one that exists twice (autumn) is the earlier.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;

use super::holidays::{LiberationDay, PublicHoliday};
use crate::pipeline::CalendarSection;

/// Microseconds per second, the unit of interaction timestamps.
pub const MICROS_PER_SECOND: i64 = 1_000_000;

/// The weekday ids of the pipeline file, Monday first.
pub const WEEKDAY_IDS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

pub fn parse_weekday(id: &str) -> Option<Weekday> {
    WEEKDAY_IDS
        .iter()
        .position(|w| *w == id)
        .and_then(|i| Weekday::try_from(i as u8).ok())
}

/// `HH:MM`, 24-hour clock.
pub fn parse_clock(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M").ok()
}

/// A calendar date written `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    time_zone: Tz,
    /// Indexed by `Weekday::num_days_from_monday`.
    working_weekdays: [bool; 7],
    opens: NaiveTime,
    closes: NaiveTime,
    holidays: Vec<PublicHoliday>,
    liberation_day: LiberationDay,
    closed_dates: BTreeSet<NaiveDate>,
}

impl WorkingCalendar {
    pub fn new(section: &CalendarSection) -> WorkingCalendar {
        let mut working_weekdays = [false; 7];
        for day in &section.working_days {
            working_weekdays[day.num_days_from_monday() as usize] = true;
        }
        WorkingCalendar {
            time_zone: section.time_zone,
            working_weekdays,
            opens: section.opens,
            closes: section.closes,
            holidays: section.public_holidays.clone(),
            liberation_day: section.liberation_day,
            closed_dates: section.closed_dates.iter().copied().collect(),
        }
    }

    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The length of one working day in hours (closing minus opening time).
    pub fn hours_per_day(&self) -> f64 {
        (self.closes - self.opens).num_seconds() as f64 / 3600.0
    }

    /// The holiday `date` is, if any.
    pub fn holiday_on(&self, date: NaiveDate) -> Option<PublicHoliday> {
        self.holidays
            .iter()
            .copied()
            .find(|h| h.date(date.year(), self.liberation_day) == Some(date))
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.working_weekdays[date.weekday().num_days_from_monday() as usize]
            && !self.closed_dates.contains(&date)
            && self.holiday_on(date).is_none()
    }

    /// Working seconds in `[from, to)`, both UTC microseconds; 0 when `to` is not after `from`.
    pub fn working_seconds(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        let (Some(first), Some(last)) = (self.local_date(from), self.local_date(to)) else {
            return 0;
        };
        let mut total = 0i64;
        let mut date = first;
        while date <= last {
            if self.is_working_day(date) {
                if let (Some(open), Some(close)) = (
                    self.instant(date, self.opens),
                    self.instant(date, self.closes),
                ) {
                    let start = open.max(from);
                    let end = close.min(to);
                    if end > start {
                        total += end - start;
                    }
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        total / MICROS_PER_SECOND
    }

    /// Working hours in `[from, to)`.
    pub fn working_hours(&self, from: i64, to: i64) -> f64 {
        self.working_seconds(from, to) as f64 / 3600.0
    }

    fn local_date(&self, micros: i64) -> Option<NaiveDate> {
        let utc = DateTime::<Utc>::from_timestamp_micros(micros)?;
        Some(utc.with_timezone(&self.time_zone).date_naive())
    }

    /// The UTC instant (microseconds) of local `time` on `date`.
    fn instant(&self, date: NaiveDate, time: NaiveTime) -> Option<i64> {
        let mut local: NaiveDateTime = date.and_time(time);
        // A spring-forward gap lasts at most a few hours; step out of it a minute at a time.
        for _ in 0..24 * 60 {
            match self.time_zone.from_local_datetime(&local) {
                LocalResult::Single(t) => return Some(t.timestamp_micros()),
                LocalResult::Ambiguous(earlier, _) => return Some(earlier.timestamp_micros()),
                LocalResult::None => local += Duration::minutes(1),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn calendar() -> WorkingCalendar {
        WorkingCalendar::new(&CalendarSection::default())
    }

    fn at(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_micros()
    }

    #[test]
    fn defaults_are_weekdays_nine_to_five_in_amsterdam() {
        let c = calendar();
        assert_eq!(c.hours_per_day(), 8.0);
        assert_eq!(c.time_zone(), chrono_tz::Europe::Amsterdam);
        let monday = NaiveDate::from_ymd_opt(2026, 10, 12).unwrap();
        assert!(c.is_working_day(monday));
        assert!(!c.is_working_day(monday + Duration::days(5)));
    }

    #[test]
    fn a_weekend_does_not_count() {
        let c = calendar();
        // Friday 16:00 to Monday 10:00, local summer time: 1 h on Friday, 1 h on Monday.
        assert_eq!(
            c.working_hours(
                at("2026-09-18T16:00:00+02:00"),
                at("2026-09-21T10:00:00+02:00")
            ),
            2.0
        );
    }

    #[test]
    fn outside_opening_hours_counts_from_the_next_opening() {
        let c = calendar();
        assert_eq!(
            c.working_hours(
                at("2026-09-14T20:00:00+02:00"),
                at("2026-09-15T09:30:00+02:00")
            ),
            0.5
        );
    }

    #[test]
    fn opening_hours_are_local_across_the_dst_change() {
        let c = calendar();
        // Summer time ends on Sunday 25 October 2026. Friday 23 October 16:00 CEST to Monday 26 October
        // 10:00 CET is still 1 h + 1 h of working time, although the UTC offset changed in between.
        assert_eq!(
            c.working_hours(
                at("2026-10-23T16:00:00+02:00"),
                at("2026-10-26T10:00:00+01:00")
            ),
            2.0
        );
        // Monday's opening is 09:00 CET = 08:00 UTC.
        assert_eq!(
            c.working_seconds(at("2026-10-26T07:00:00Z"), at("2026-10-26T08:30:00Z")),
            1800
        );
    }

    #[test]
    fn public_holidays_and_closed_dates_are_not_working_days() {
        let c = WorkingCalendar::new(&CalendarSection {
            closed_dates: vec![NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()],
            ..CalendarSection::default()
        });
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        assert!(!c.is_working_day(day(4, 6)), "Easter Monday");
        assert!(!c.is_working_day(day(4, 27)), "King's Day");
        assert!(!c.is_working_day(day(5, 14)), "Ascension Day");
        assert!(!c.is_working_day(day(12, 24)), "closed date");
        assert!(
            c.is_working_day(day(4, 3)),
            "Good Friday is open by default"
        );
        assert!(c.is_working_day(day(5, 5)), "2026 is no lustrum year");
    }
}
