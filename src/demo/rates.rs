//! The demo's exchange rates: illustrative euro reference rates (USD per EUR, not the ECB's
//! real figures) for every weekday of the demo's months, in the layout the European Central
//! Bank publishes (`Date,USD,` newest first), so `currency.toml` reads them as it would the
//! real file. A rate depends on its date only: any two demos agree on a shared day.

use std::fmt::Write;

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

use super::generate::DemoConfig;
use super::generate::ids::mix64;

/// Where the demo's `currency.toml` looks for them, relative to the mappings folder.
pub const FILE: &str = "rates/eurofxref-demo.csv";

/// The rates file for the demo's months.
pub fn csv(config: &DemoConfig) -> String {
    let (year, month) = config.first_month;
    let first = NaiveDate::from_ymd_opt(year, month, 1).expect("the demo's first month is a month");
    let end = first.checked_add_months(Months::new(config.months)).expect("in range");
    between(first, end)
}

/// Every weekday in `first..end`, newest first.
pub fn between(first: NaiveDate, end: NaiveDate) -> String {
    let mut out = String::from("Date,USD,\n");
    let mut day = end;
    while day > first {
        day = day - Days::new(1);
        if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            continue;
        }
        let tenths_of_bp = usd_per_eur(day);
        let _ = writeln!(out, "{day},{}.{:04},", tenths_of_bp / 10_000, tenths_of_bp % 10_000);
    }
    out
}

/// 1.1630 USD per EUR, swinging ±0.02 over a 120-day cycle, with a daily wiggle of up to
/// ±0.0015; in units of 0.0001, as the ECB quotes.
fn usd_per_eur(day: NaiveDate) -> i64 {
    let days = i64::from(day.num_days_from_ce());
    let phase = days.rem_euclid(120);
    let triangle = if phase < 60 { phase - 30 } else { 90 - phase }; // -30..=30
    let wiggle = (mix64(days as u64) % 31) as i64 - 15;
    11_630 + triangle * 200 / 30 + wiggle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_newest_first_within_the_stated_range() {
        let text = csv(&DemoConfig::default());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Date,USD,");
        // August to October 2026: 65 weekdays (21 + 22 + 22).
        assert_eq!(lines.len(), 1 + 65);
        assert!(lines[1].starts_with("2026-10-30,"), "{}", lines[1]);
        assert!(lines.last().unwrap().starts_with("2026-08-03,"));
        for line in &lines[1..] {
            let rate: f64 = line.split(',').nth(1).unwrap().parse().unwrap();
            assert!((1.1415..=1.1845).contains(&rate), "{line}");
        }
    }

    /// The copy in `fixtures/demo-mappings` (for tests that copy the folder) is this
    /// module's output, so the two cannot drift apart.
    #[test]
    fn the_fixture_copy_is_the_generated_file() {
        let fixture = include_str!("../../fixtures/demo-mappings/rates/eurofxref-demo.csv");
        let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let end = NaiveDate::from_ymd_opt(2028, 1, 1).unwrap();
        assert_eq!(fixture, between(first, end));
    }
}
