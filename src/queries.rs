//! Report SQL shared by more than one module, with its placeholders filled: the one
//! place each query's parameters are written into its text (the files in `queries/`
//! stay portable SQL that DuckDB, Spark and Trino run once the placeholders are filled).

use chrono::{Duration, NaiveDate};

use crate::calendar::Month;

/// `queries/week_drivers.sql`: each team's spend per service, account, region and
/// resource, this week against the one before. Placeholders `{as_of}`, `{since_period}`.
pub const WEEK_DRIVERS_SQL: &str = include_str!("../queries/week_drivers.sql");

/// [`WEEK_DRIVERS_SQL`] for the weeks ending on `as_of`, ready to run in any engine. The
/// placeholders are bare text inside quotes; only digits and dashes go in.
pub fn week_drivers(as_of: NaiveDate) -> String {
    let since = Month::of(as_of - Duration::days(13)).to_string();
    WEEK_DRIVERS_SQL.replace("{as_of}", &as_of.format("%Y-%m-%d").to_string()).replace("{since_period}", &since)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_with_the_weeks_dates() {
        let text = week_drivers(NaiveDate::from_ymd_opt(2026, 10, 5).unwrap());
        assert!(!text.contains("{as_of}") && !text.contains("{since_period}"));
        assert!(text.contains("DATE '2026-10-05'"));
        // 13 days before 5 October is 22 September: September's files are read too.
        assert!(text.contains("billing_period >= '2026-09'"));
    }
}
