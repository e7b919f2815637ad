//! Calendar months: the one place month arithmetic lives. Billing periods,
//! budgets, reports and nudges all count in UTC calendar months.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime};
use serde::Deserialize;

/// A calendar month, stored as its first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub NaiveDate);

impl Month {
    /// `"2026-08"`; anything else (`"2026-8"`, `"2026-13"`) is `None`.
    pub fn parse(text: &str) -> Option<Month> {
        let (year, month) = text.split_once('-')?;
        if year.len() != 4 || month.len() != 2 || !text.bytes().filter(|b| *b != b'-').all(|b| b.is_ascii_digit()) {
            return None;
        }
        Month::from_ym(year.parse().ok()?, month.parse().ok()?)
    }

    pub fn from_ym(year: i32, month: u32) -> Option<Month> {
        NaiveDate::from_ymd_opt(year, month, 1).map(Month)
    }

    /// The month containing `day`.
    pub fn of(day: NaiveDate) -> Month {
        Month(day.with_day(1).expect("day 1 exists"))
    }

    /// The month containing a UTC instant in microseconds.
    pub fn of_micros(micros: i64) -> Option<Month> {
        DateTime::from_timestamp_micros(micros).map(|t| Month::of(t.date_naive()))
    }

    pub fn first(self) -> NaiveDate {
        self.0
    }

    pub fn next(self) -> Month {
        Month(self.0.checked_add_months(chrono::Months::new(1)).expect("month in range"))
    }

    pub fn prev(self) -> Month {
        Month(self.0.checked_sub_months(chrono::Months::new(1)).expect("month in range"))
    }

    /// `n` months later.
    pub fn plus(self, n: u32) -> Month {
        Month(self.0.checked_add_months(chrono::Months::new(n)).expect("month in range"))
    }

    pub fn last(self) -> NaiveDate {
        self.next().0.pred_opt().expect("day exists")
    }

    pub fn days(self) -> u32 {
        self.last().day()
    }

    /// The first instant of the month, UTC microseconds.
    pub fn start_micros(self) -> i64 {
        micros(self.0)
    }

    /// `[start, end)` of the month in UTC microseconds.
    pub fn bounds_micros(self) -> (i64, i64) {
        (self.start_micros(), self.next().start_micros())
    }
}

fn micros(day: NaiveDate) -> i64 {
    day.and_time(NaiveTime::MIN).and_utc().timestamp_micros()
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m"))
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Month, D::Error> {
        let text = String::deserialize(deserializer)?;
        Month::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a month like \"2026-08\"")))
    }
}

/// `2023-11` for the month containing `micros` (a lake timestamp, always in range).
pub fn year_month(micros: i64) -> String {
    Month::of_micros(micros).expect("timestamp in range").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly() {
        assert_eq!(Month::parse("2025-01").map(|m| m.to_string()), Some("2025-01".into()));
        for bad in ["2025-1", "2025-00", "2025-13", "2025", "25-01", "2025-0a", "+202-01"] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn arithmetic_crosses_years() {
        let dec = Month::parse("2024-12").unwrap();
        assert_eq!(dec.next().to_string(), "2025-01");
        assert_eq!(dec.next().prev(), dec);
        assert_eq!(dec.plus(3).to_string(), "2025-03");
        assert_eq!(Month::parse("2024-02").unwrap().days(), 29);
        let (start, end) = dec.bounds_micros();
        assert_eq!(year_month(start), "2024-12");
        assert_eq!(year_month(end - 1), "2024-12");
        assert_eq!(year_month(end), "2025-01");
        assert_eq!(Month::of_micros(start), Some(dec));
    }
}
