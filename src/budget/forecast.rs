//! Month-end forecasts: the spend to date plus a projection of each remaining
//! day from the recent daily spend of recurring charges, by day of week.
//!
//! Exact integer arithmetic: each projected day is a mean of amounts at the
//! money scale, rounded half away from zero once, so the same data always
//! gives the same forecast to the last digit.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

use crate::money::div_round;

/// Days of history the day-of-week pattern is read from (four of each weekday).
pub const WINDOW_DAYS: i64 = 28;

/// A charge series: ChargeCategory and service.
pub type SeriesKey = (String, String);

/// Whether a series recurs: usage always does; other categories (Purchase,
/// Tax, Credit, Adjustment) are one-offs that land on specific days, unless
/// they show up on at least half the days of the window and on two or more
/// (daily Savings Plan fees, GCP's daily sustained-use credits).
pub fn is_recurring(category: &str, days_present: usize, window_days: usize) -> bool {
    category == "Usage" || (days_present >= 2 && 2 * days_present >= window_days)
}

/// Spend per day of the window (each window day, zero where nothing was
/// charged) from the series that recur.
pub fn recurring_daily(
    series: &BTreeMap<SeriesKey, BTreeMap<NaiveDate, i128>>,
    window: &[NaiveDate],
) -> Vec<(NaiveDate, i128)> {
    let mut daily: Vec<(NaiveDate, i128)> = window.iter().map(|d| (*d, 0)).collect();
    for ((category, _), days) in series {
        let present = window.iter().filter(|d| days.contains_key(d)).count();
        if !is_recurring(category, present, window.len()) {
            continue;
        }
        for (day, amount) in daily.iter_mut() {
            *amount += days.get(day).copied().unwrap_or(0);
        }
    }
    daily
}

/// The projected spend of each of `days`: the mean of the window days with the
/// same weekday, or of the whole window when none has it (early in the first
/// month the lake holds). Nothing when the window is empty.
pub fn project(window: &[(NaiveDate, i128)], days: &[NaiveDate]) -> Vec<(NaiveDate, i128)> {
    if window.is_empty() {
        return days.iter().map(|d| (*d, 0)).collect();
    }
    let mut by_weekday: BTreeMap<u32, (i128, i128)> = BTreeMap::new();
    for (day, amount) in window {
        let entry = by_weekday.entry(day.weekday().num_days_from_monday()).or_default();
        entry.0 += amount;
        entry.1 += 1;
    }
    let total: i128 = window.iter().map(|(_, a)| a).sum();
    let overall = div_round(total, window.len() as i128);
    days.iter()
        .map(|day| {
            let mean = match by_weekday.get(&day.weekday().num_days_from_monday()) {
                Some((sum, n)) => div_round(*sum, *n),
                None => overall,
            };
            (*day, mean)
        })
        .collect()
}

/// The days from `from` through `to`, inclusive.
pub fn days_between(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    from.iter_days().take_while(|d| *d <= to).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 9, d).unwrap()
    }

    #[test]
    fn weekday_means_and_fallback() {
        // 2026-09-01 is a Tuesday. Two weeks: weekdays 10, weekend 4.
        let window: Vec<_> = (1..=14).map(|d| (day(d), if matches!(d, 5 | 6 | 12 | 13) { 4 } else { 10 })).collect();
        let projected = project(&window, &[day(19), day(21)]);
        assert_eq!(projected, vec![(day(19), 4), (day(21), 10)]);
        // Three days (Tue-Thu): a Saturday has no weekday of its own, so the mean: (1+2+4)/3 rounds to 2.
        let short = vec![(day(1), 1), (day(2), 2), (day(3), 4)];
        assert_eq!(project(&short, &[day(5), day(8)]), vec![(day(5), 2), (day(8), 1)]);
    }

    #[test]
    fn one_offs_are_not_extrapolated() {
        let mut series = BTreeMap::new();
        series.insert(("Usage".into(), "EC2".into()), BTreeMap::from([(day(1), 10), (day(2), 10)]));
        series.insert(("Tax".into(), "EC2".into()), BTreeMap::from([(day(1), 99)]));
        series.insert(("Purchase".into(), "SP".into()), BTreeMap::from([(day(1), 3), (day(2), 3)]));
        assert_eq!(recurring_daily(&series, &[day(1), day(2)]), vec![(day(1), 13), (day(2), 13)]);
    }
}
