//! What every report needs: a session over the lake (and metrics), the org, the
//! currency shown, the as-of date and the windows ending on it, and the data's
//! freshness.

use chrono::{Datelike, Duration, NaiveDate};
use datafusion::prelude::SessionContext;

use super::Options;
use super::query::{self, Param, Row, Value};
use crate::attribute::mappings::Mappings;
use crate::attribute::org::Org;
use crate::attribute::org::UNALLOCATED;
use crate::calendar::Month;
use crate::lake::Lake;
use crate::money::text as format;

const CURRENCIES_SQL: &str = include_str!("../../queries/report_currencies.sql");
const DATA_RANGE_SQL: &str = include_str!("../../queries/report_data_range.sql");
const LAST_INGEST_SQL: &str = include_str!("../../queries/report_last_ingest.sql");

/// Which org a team's spend rolls up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Rollup {
    /// The org the team sat under on the charge date (history stays where it was)
    #[default]
    AsWas,
    /// The org the team sits under now (history follows the team)
    AsIs,
}

impl Rollup {
    pub fn words(self) -> &'static str {
        match self {
            Rollup::AsWas => "as-was (the org on the charge date)",
            Rollup::AsIs => "as-is (today's org)",
        }
    }
}

/// The days a report compares, all ending on the as-of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub as_of: NaiveDate,
    /// This week: the 7 days ending on the as-of date.
    pub week_start: NaiveDate,
    pub prior_week_start: NaiveDate,
    pub prior_week_end: NaiveDate,
    pub month_start: NaiveDate,
    /// The same days of the month before: its first as many days as this month has had so far,
    /// or all of it when it is shorter (31 October against the 30 days of September).
    pub prior_month_start: NaiveDate,
    pub prior_month_end: NaiveDate,
}

impl Windows {
    pub fn ending(as_of: NaiveDate) -> Windows {
        let prior = Month::of(as_of).prev();
        let prior_month_start = prior.first();
        let prior_month_end = prior_month_start + Duration::days(i64::from(as_of.day().min(prior.days())) - 1);
        Windows {
            as_of,
            week_start: as_of - Duration::days(6),
            prior_week_start: as_of - Duration::days(13),
            prior_week_end: as_of - Duration::days(7),
            month_start: Month::of(as_of).first(),
            prior_month_start,
            prior_month_end,
        }
    }

    /// What month to date is compared with, honestly: `same days last month (Sep 1–14)`, or
    /// `all of September (30 days against 31)` when the month before is shorter.
    pub fn month_comparison(&self) -> String {
        let days = |from: NaiveDate, to: NaiveDate| (to - from).num_days() + 1;
        let (now, before) = (days(self.month_start, self.as_of), days(self.prior_month_start, self.prior_month_end));
        if now == before {
            let (start, end) = (self.prior_month_start.format("%b %-d"), self.prior_month_end.format("%-d"));
            format!("same days last month ({start}–{end})")
        } else {
            format!("all of {} ({before} days against {now})", self.prior_month_start.format("%B"))
        }
    }

    /// The earliest day any window reaches.
    pub fn from(&self) -> NaiveDate {
        self.prior_month_start.min(self.prior_week_start)
    }
}

pub struct Context {
    pub ctx: SessionContext,
    pub lake: Lake,
    pub options: Options,
    pub currency: String,
    /// Other currencies in the lake, with their line items: not in this report.
    pub other_currencies: Vec<(String, i128)>,
    pub data_from: NaiveDate,
    /// The last charge day with data, on or before the as-of date.
    pub data_to: NaiveDate,
    pub as_of: NaiveDate,
    /// The newest committed ingest run, `YYYY-MM-DD HH:MM UTC`.
    pub last_ingest: Option<String>,
    pub windows: Windows,
    pub has_metrics: bool,
    pub has_findings: bool,
}

fn ymd(day: NaiveDate) -> String {
    day.format("%Y-%m").to_string()
}

impl Context {
    pub fn mappings(&self) -> &Mappings {
        &self.options.mappings.mappings
    }

    pub fn org(&self) -> &Org {
        &self.options.mappings.org
    }

    pub async fn load(options: &Options) -> anyhow::Result<Context> {
        let lake = options.lake.clone();
        if !lake.has_table(crate::lake::ATTRIBUTED) {
            anyhow::bail!("lake {} has no attributed spend: run `tally attribute` first", lake.root().display());
        }
        let ctx = options.mappings.session(&lake).await?;
        let has_metrics = match &options.metrics {
            Some(path) => {
                crate::metrics::register(&ctx, path)?;
                true
            }
            None => false,
        };
        let has_findings = ctx.table_exist(crate::lake::FINDINGS)?;

        let currencies = query::run(&ctx, "report_currencies.sql", CURRENCIES_SQL, &[]).await?;
        let mut all: Vec<(String, i128)> = currencies.iter().map(|r| (r[0].text(), r[1].at_scale(0))).collect();
        let currency = match &options.currency {
            Some(c) => {
                if !all.iter().any(|(name, _)| name == c) {
                    let found: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
                    anyhow::bail!("no attributed spend in {c} (the lake has: {})", found.join(", "));
                }
                c.clone()
            }
            None => match all.first() {
                Some((c, _)) => c.clone(),
                None => anyhow::bail!("the lake's attributed table has no spend"),
            },
        };
        all.retain(|(name, _)| *name != currency);

        let limit = options.as_of.unwrap_or(NaiveDate::MAX);
        let range = query::run(
            &ctx,
            "report_data_range.sql",
            DATA_RANGE_SQL,
            &[("currency", Param::Text(currency.clone())), ("as_of", Param::Date(limit))],
        )
        .await?;
        let (data_from, data_to) = match range.first().map(|r| (r[0].date(), r[1].date())) {
            Some((Some(from), Some(to))) => (from, to),
            _ => anyhow::bail!("no attributed spend in {currency} on or before {limit}"),
        };
        let as_of = options.as_of.unwrap_or(data_to);
        let last_ingest = if ctx.table_exist(crate::lake::INGESTS)? {
            let rows = query::run(&ctx, "report_last_ingest.sql", LAST_INGEST_SQL, &[]).await?;
            rows.first().and_then(|r| match r[0] {
                Value::Timestamp(micros) => {
                    chrono::DateTime::from_timestamp_micros(micros).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                }
                _ => None,
            })
        } else {
            None
        };
        Ok(Context {
            ctx,
            lake,
            options: options.clone(),
            currency,
            other_currencies: all,
            data_from,
            data_to,
            as_of,
            last_ingest,
            windows: Windows::ending(as_of),
            has_metrics,
            has_findings,
        })
    }

    /// The line at the top of every report.
    pub fn freshness(&self) -> String {
        let mut text = format!(
            "Data through {} (charge days {} to {}); as of {}.",
            self.data_to, self.data_from, self.data_to, self.as_of
        );
        if self.data_to < self.as_of {
            text.push_str(&format!(
                " The last {} day(s) before the as-of date have no data yet.",
                (self.as_of - self.data_to).num_days()
            ));
        }
        match &self.last_ingest {
            Some(at) => text.push_str(&format!(" Last ingest {at}.")),
            None => text.push_str(" No ingest log in the lake."),
        }
        text
    }

    /// What every report says about its amounts.
    pub fn basis(&self) -> String {
        format!(
            "Amortized cost (EffectiveCost) in {}, shared and unallocated spend included; org roll-up {}.",
            self.currency,
            self.options.rollup.words()
        )
    }

    /// Notes every report carries: currencies left out.
    pub fn notes(&self) -> Vec<String> {
        self.other_currencies
            .iter()
            .map(|(c, n)| {
                format!("The lake also has {n} line item(s) in {c}, not in this report (--currency {c} shows them).")
            })
            .collect()
    }

    /// The windows' parameters and the report's currency, for the queries.
    pub fn params(&self) -> Vec<(&'static str, Param)> {
        self.params_for(&self.windows, self.windows.from())
    }

    pub fn params_for(&self, w: &Windows, from: NaiveDate) -> Vec<(&'static str, Param)> {
        vec![
            ("currency", Param::Text(self.currency.clone())),
            ("as_of", Param::Date(w.as_of)),
            ("week_start", Param::Date(w.week_start)),
            ("prior_week_start", Param::Date(w.prior_week_start)),
            ("prior_week_end", Param::Date(w.prior_week_end)),
            ("month_start", Param::Date(w.month_start)),
            ("prior_month_start", Param::Date(w.prior_month_start)),
            ("prior_month_end", Param::Date(w.prior_month_end)),
            ("month", Param::Text(ymd(w.as_of))),
            ("from", Param::Date(from)),
            // Billing periods a charge in [from, as_of] can be in: a month either side.
            ("first_period", Param::Text(ymd(Month::of(from).prev().first()))),
            ("last_period", Param::Text(ymd(Month::of(w.as_of).next().first()))),
        ]
    }

    pub async fn query(&self, name: &str, sql: &str) -> anyhow::Result<Vec<Row>> {
        query::run(&self.ctx, name, sql, &self.params()).await
    }

    /// The org a team's spend rolls up to, from its as-was and as-is paths.
    pub fn org_of<'a>(&self, org_path: &'a str, org_path_current: &'a str) -> &'a str {
        let path = match self.options.rollup {
            Rollup::AsWas => org_path,
            Rollup::AsIs => org_path_current,
        };
        org_of_path(path)
    }
}

/// The node directly above a team in its org path (`acme/eng/payments/ledger` -> `payments`);
/// unallocated spend is its own org.
pub fn org_of_path(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((parent, _)) => parent.rsplit('/').next().unwrap_or(parent),
        None if path.is_empty() => UNALLOCATED,
        None => path,
    }
}

/// Money values of a row, for convenience: columns `from..` at the lake's scale.
pub fn money_columns<const N: usize>(row: &Row, from: usize) -> [i128; N] {
    std::array::from_fn(|i| row[from + i].money())
}

/// `(now - before)` and its percentage, for tables.
pub fn change(now: i128, before: i128) -> (i128, Option<i128>) {
    (now - before, format::change_tenths(now, before))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn windows_end_on_the_as_of_date() {
        let w = Windows::ending(d("2026-10-31"));
        assert_eq!(
            (w.week_start, w.prior_week_start, w.prior_week_end),
            (d("2026-10-25"), d("2026-10-18"), d("2026-10-24"))
        );
        assert_eq!(
            (w.month_start, w.prior_month_start, w.prior_month_end),
            (d("2026-10-01"), d("2026-09-01"), d("2026-09-30"))
        );
        let w = Windows::ending(d("2026-03-30"));
        assert_eq!((w.prior_month_start, w.prior_month_end), (d("2026-02-01"), d("2026-02-28")));
        let w = Windows::ending(d("2026-10-15"));
        assert_eq!((w.prior_month_start, w.prior_month_end), (d("2026-09-01"), d("2026-09-15")));
        let w = Windows::ending(d("2026-01-05"));
        assert_eq!((w.prior_month_start, w.prior_month_end), (d("2025-12-01"), d("2025-12-05")));
        assert_eq!(w.from(), d("2025-12-01"));
    }

    #[test]
    fn month_comparisons_say_what_they_compare() {
        // 31 days of October against the 30 of September: said, not called "the same days".
        assert_eq!(Windows::ending(d("2026-10-31")).month_comparison(), "all of September (30 days against 31)");
        assert_eq!(Windows::ending(d("2026-10-15")).month_comparison(), "same days last month (Sep 1–15)");
        // The last day of February against the first 28 days of January, not all 31.
        let w = Windows::ending(d("2026-02-28"));
        assert_eq!((w.prior_month_start, w.prior_month_end), (d("2026-01-01"), d("2026-01-28")));
        assert_eq!(w.month_comparison(), "same days last month (Jan 1–28)");
        assert_eq!(Windows::ending(d("2026-03-31")).month_comparison(), "all of February (28 days against 31)");
    }

    #[test]
    fn org_is_the_node_above_the_team() {
        assert_eq!(org_of_path("acme/sofia-alvarez/payments/ledger"), "payments");
        assert_eq!(org_of_path("acme/ledger"), "acme");
        assert_eq!(org_of_path("unallocated"), "unallocated");
    }
}
