//! The demo company's business volume, the denominators of unit economics: dollars of
//! payments processed each day (company-wide, for spend in basis points) and, per team,
//! the units its own spend serves. Deterministic from the seed, as the CUR files are.
//!
//! Sized against the default demo (about $95K of cloud spend a month): about $6M processed
//! on a weekday, so the company runs at roughly 4-5 basis points, as payment companies do;
//! volume scales with `--rows` as spend does.

use std::fmt::Write;

use chrono::{Datelike, Days, NaiveDate, Weekday};

use super::generate::DemoConfig;

/// `(metric, team, units per dollar processed)`: each team's volume follows the payments.
const TEAM_METRICS: [(&str, &str, u64); 3] = [
    // One payment per $85 processed.
    ("payments", "payments-api", 85),
    // A search for every $5: shoppers look before they pay.
    ("searches", "search", 5),
    // A checkout session per $70.
    ("checkouts", "checkout", 70),
];

/// The metrics file's text: `date,metric,value,team` for every day of the demo's months.
pub fn csv(config: &DemoConfig) -> String {
    let (year, month) = config.first_month;
    let first = NaiveDate::from_ymd_opt(year, month, 1).expect("the demo's first month is a month");
    let end = first.checked_add_months(chrono::Months::new(config.months)).expect("in range");
    let mut out = String::from("date,metric,value,team\n");
    let mut day = first;
    let mut index = 0u64;
    while day < end {
        // The company's size follows --rows (spend does): a few basis points at any size.
        let dollars = processed(config.seed, day, index) * config.target_rows / DemoConfig::default().target_rows;
        let _ = writeln!(out, "{day},payment_volume_usd,{dollars},");
        for (metric, team, per) in TEAM_METRICS {
            let _ = writeln!(out, "{day},{metric},{},{team}", dollars / per);
        }
        day = day + Days::new(1);
        index += 1;
    }
    out
}

/// Dollars processed on `day` (the `index`-th day of the demo): $6M on a weekday, 60% of
/// that at weekends, growing 0.3% a day, with a wiggle of up to ±5% from the seed.
fn processed(seed: u64, day: NaiveDate, index: u64) -> u64 {
    let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
    let base: u64 = if weekend { 3_600_000 } else { 6_000_000 };
    let grown = base * (1000 + 3 * index) / 1000;
    // SplitMix64 of (seed, day): the same seed gives the same volumes.
    let mut x = seed ^ (u64::from(day.num_days_from_ce() as u32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    let wiggle = (x % 101) as i64 - 50; // -50..=50 thousandths
    (grown as i64 + grown as i64 * wiggle / 1000) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_day_of_the_demo_has_each_metric_once() {
        let config = DemoConfig::default();
        let text = csv(&config);
        let lines: Vec<&str> = text.lines().collect();
        // August to October 2026: 92 days, four metrics a day, and the header.
        assert_eq!(lines.len(), 1 + 92 * 4);
        assert_eq!(lines[1].split(',').take(2).collect::<Vec<_>>(), ["2026-08-01", "payment_volume_usd"]);
        assert_eq!(csv(&config), text, "deterministic");
        // A Saturday processes less than the weekday before it.
        let volume = |day: &str| -> u64 {
            let line = lines.iter().find(|l| l.starts_with(&format!("{day},payment_volume_usd"))).unwrap();
            line.split(',').nth(2).unwrap().parse().unwrap()
        };
        assert!(volume("2026-08-01") < volume("2026-08-03"));
    }
}
