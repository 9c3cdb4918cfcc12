//! Dutch public holidays, computed for any year: fixed dates, King's Day with its Sunday rule, Liberation Day
//! every year or every fifth year, and the holidays that follow Easter.
//!
//! Contract: [`PublicHoliday::date`] gives the date a holiday falls on in a year (or `None` when it is not a
//! holiday that year, Liberation Day outside lustrum years when so configured). Nothing here knows about working
//! hours; `calendar` asks whether a date is a holiday.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// The Dutch public holidays a working calendar can close on. Ids are the snake_case names used in the
/// pipeline file's `[calendar] public_holidays`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PublicHoliday {
    NewYear,
    GoodFriday,
    EasterSunday,
    EasterMonday,
    KingsDay,
    LiberationDay,
    AscensionDay,
    WhitSunday,
    WhitMonday,
    ChristmasDay,
    BoxingDay,
}

/// Whether 5 May is a day off every year or only in lustrum years (divisible by 5), as many collective labour
/// agreements have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiberationDay {
    EveryYear,
    #[default]
    Every5Years,
}

impl LiberationDay {
    pub const IDS: [&'static str; 2] = ["every_year", "every_5_years"];

    pub fn parse(id: &str) -> Option<LiberationDay> {
        match id {
            "every_year" => Some(LiberationDay::EveryYear),
            "every_5_years" => Some(LiberationDay::Every5Years),
            _ => None,
        }
    }
}

impl PublicHoliday {
    pub const ALL: [PublicHoliday; 11] = [
        PublicHoliday::NewYear,
        PublicHoliday::GoodFriday,
        PublicHoliday::EasterSunday,
        PublicHoliday::EasterMonday,
        PublicHoliday::KingsDay,
        PublicHoliday::LiberationDay,
        PublicHoliday::AscensionDay,
        PublicHoliday::WhitSunday,
        PublicHoliday::WhitMonday,
        PublicHoliday::ChristmasDay,
        PublicHoliday::BoxingDay,
    ];

    /// The holidays a Dutch office is closed on by default: the legal public holidays except Good Friday, which
    /// most employers do not give off.
    pub fn dutch_defaults() -> Vec<PublicHoliday> {
        PublicHoliday::ALL
            .into_iter()
            .filter(|h| *h != PublicHoliday::GoodFriday)
            .collect()
    }

    pub fn id(self) -> &'static str {
        match self {
            PublicHoliday::NewYear => "new_year",
            PublicHoliday::GoodFriday => "good_friday",
            PublicHoliday::EasterSunday => "easter_sunday",
            PublicHoliday::EasterMonday => "easter_monday",
            PublicHoliday::KingsDay => "kings_day",
            PublicHoliday::LiberationDay => "liberation_day",
            PublicHoliday::AscensionDay => "ascension_day",
            PublicHoliday::WhitSunday => "whit_sunday",
            PublicHoliday::WhitMonday => "whit_monday",
            PublicHoliday::ChristmasDay => "christmas_day",
            PublicHoliday::BoxingDay => "boxing_day",
        }
    }

    pub fn parse(id: &str) -> Option<PublicHoliday> {
        PublicHoliday::ALL.into_iter().find(|h| h.id() == id)
    }

    /// The date of this holiday in `year`, or `None` when it is no holiday that year.
    pub fn date(self, year: i32, liberation: LiberationDay) -> Option<NaiveDate> {
        let fixed = |month, day| NaiveDate::from_ymd_opt(year, month, day);
        let after_easter = |days| easter_sunday(year).map(|e| e + Duration::days(days));
        match self {
            PublicHoliday::NewYear => fixed(1, 1),
            PublicHoliday::GoodFriday => after_easter(-2),
            PublicHoliday::EasterSunday => after_easter(0),
            PublicHoliday::EasterMonday => after_easter(1),
            PublicHoliday::KingsDay => {
                // King's Day moves to the Saturday before when 27 April is a Sunday.
                let day = fixed(4, 27)?;
                Some(if day.weekday() == Weekday::Sun {
                    day - Duration::days(1)
                } else {
                    day
                })
            }
            PublicHoliday::LiberationDay => match liberation {
                LiberationDay::Every5Years if year % 5 != 0 => None,
                _ => fixed(5, 5),
            },
            PublicHoliday::AscensionDay => after_easter(39),
            PublicHoliday::WhitSunday => after_easter(49),
            PublicHoliday::WhitMonday => after_easter(50),
            PublicHoliday::ChristmasDay => fixed(12, 25),
            PublicHoliday::BoxingDay => fixed(12, 26),
        }
    }
}

/// Easter Sunday of the Gregorian calendar (the anonymous Gregorian algorithm, "Meeus/Jones/Butcher").
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn easter_matches_published_dates() {
        for (year, month, day) in [
            (2000, 4, 23),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
        ] {
            assert_eq!(easter_sunday(year), Some(date(year, month, day)), "{year}");
        }
    }

    #[test]
    fn easter_based_holidays_of_2026() {
        let on = |h: PublicHoliday| h.date(2026, LiberationDay::EveryYear).unwrap();
        assert_eq!(on(PublicHoliday::GoodFriday), date(2026, 4, 3));
        assert_eq!(on(PublicHoliday::EasterMonday), date(2026, 4, 6));
        assert_eq!(on(PublicHoliday::AscensionDay), date(2026, 5, 14));
        assert_eq!(on(PublicHoliday::WhitMonday), date(2026, 5, 25));
    }

    #[test]
    fn kings_day_moves_to_saturday_when_27_april_is_a_sunday() {
        let kings = |y| PublicHoliday::KingsDay.date(y, LiberationDay::EveryYear);
        // 27 April 2025 and 2031 are Sundays.
        assert_eq!(kings(2025), Some(date(2025, 4, 26)));
        assert_eq!(kings(2031), Some(date(2031, 4, 26)));
        assert_eq!(kings(2026), Some(date(2026, 4, 27)));
    }

    #[test]
    fn liberation_day_every_year_or_in_lustrum_years() {
        let lib = PublicHoliday::LiberationDay;
        assert_eq!(lib.date(2026, LiberationDay::Every5Years), None);
        assert_eq!(
            lib.date(2025, LiberationDay::Every5Years),
            Some(date(2025, 5, 5))
        );
        assert_eq!(
            lib.date(2026, LiberationDay::EveryYear),
            Some(date(2026, 5, 5))
        );
    }

    #[test]
    fn ids_round_trip() {
        for holiday in PublicHoliday::ALL {
            assert_eq!(PublicHoliday::parse(holiday.id()), Some(holiday));
        }
        assert!(!PublicHoliday::dutch_defaults().contains(&PublicHoliday::GoodFriday));
    }
}
