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

/// `queries/billing_currencies.sql`: each team's week and month to date in each currency it
/// was billed in, beside the converted amounts and the rates (reads the reporting-currency view).
pub const BILLING_CURRENCIES_SQL: &str = include_str!("../queries/billing_currencies.sql");

/// [`BILLING_CURRENCIES_SQL`] for the week and month to `as_of`, in `currency` (a currency
/// code: letters only, checked by currency.toml's loader).
pub fn billing_currencies(currency: &str, as_of: NaiveDate) -> String {
    let month_start = Month::of(as_of).first();
    let from = month_start.min(as_of - Duration::days(6));
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    BILLING_CURRENCIES_SQL
        .replace("{currency}", currency)
        .replace("{as_of}", &day(as_of))
        .replace("{from}", &day(from))
        .replace("{month_start}", &day(month_start))
        .replace("{since_period}", &Month::of(from).to_string())
}

/// `queries/cluster_idle.sql`: each container cluster's node cost and idle part, this week and
/// the week before.
pub const CLUSTER_IDLE_SQL: &str = include_str!("../queries/cluster_idle.sql");

/// [`CLUSTER_IDLE_SQL`] for the weeks ending on `as_of`.
pub fn cluster_idle(as_of: NaiveDate) -> String {
    let from = as_of - Duration::days(13);
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    CLUSTER_IDLE_SQL
        .replace("{as_of}", &day(as_of))
        .replace("{from}", &day(from))
        .replace("{since_period}", &Month::of(from).to_string())
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

    #[test]
    fn billing_currencies_reads_from_the_earlier_of_week_and_month() {
        // 3 October: the week began on 27 September, before the month did.
        let text = billing_currencies("USD", NaiveDate::from_ymd_opt(2026, 10, 3).unwrap());
        assert!(!text.contains('{'), "{text}");
        assert!(text.contains("DATE '2026-09-27'") && text.contains("DATE '2026-10-01'"));
        assert!(text.contains("billing_period >= '2026-09'") && text.contains("= 'USD'"));
        // 20 October: the month began first.
        let text = billing_currencies("USD", NaiveDate::from_ymd_opt(2026, 10, 20).unwrap());
        assert!(!text.contains("2026-09") && text.contains("billing_period >= '2026-10'"));
    }
}
