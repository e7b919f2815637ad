//! Spend per business volume: cost per unit and spend per volume in basis
//! points, per week, month and quarter, company-wide (all spend: shared and
//! unallocated included) and per team where a metric names the team, with the
//! change from the prior period.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};

use super::chart::{self, Series};
use super::context::Context;
use super::document::{Document, Section};
use super::query;
use super::table::{Kind, Table, col};
use super::weekly::DAILY_SQL;
use crate::calendar::Month;
use crate::metrics::VALUE_SCALE;
use crate::money::SCALE;
use crate::money::div_round;
use crate::money::text::{self as format, RATIO_SCALE, change_tenths};

const VOLUME_SQL: &str = include_str!("../../queries/unit_business_volume.sql");
/// Weeks shown, newest last.
const WEEKS: i64 = 13;

/// A stretch of days `[start, end]` with a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub label: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    Week,
    Month,
    Quarter,
}

impl Grain {
    pub fn name(self) -> &'static str {
        match self {
            Grain::Week => "weekly",
            Grain::Month => "monthly",
            Grain::Quarter => "quarterly",
        }
    }
}

fn quarter_start(day: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(day.year(), (day.month() - 1) / 3 * 3 + 1, 1).expect("valid quarter")
}

/// The periods of a grain from `from` to `as_of`, oldest first, clipped to those days.
/// Weeks are the 7-day windows ending on the as-of date (as in the weekly report).
pub fn periods(grain: Grain, from: NaiveDate, as_of: NaiveDate) -> Vec<Period> {
    let mut out = Vec::new();
    match grain {
        Grain::Week => {
            for i in (0..WEEKS).rev() {
                let end = as_of - Duration::days(7 * i);
                let start = end - Duration::days(6);
                if end < from {
                    continue;
                }
                out.push(Period { label: format!("week to {end}"), start: start.max(from), end });
            }
        }
        Grain::Month | Grain::Quarter => {
            let mut start = if grain == Grain::Month { Month::of(from).first() } else { quarter_start(from) };
            while start <= as_of {
                let next = if grain == Grain::Month {
                    Month::of(start).next().first()
                } else {
                    Month::of(start).plus(3).first()
                };
                let end = next.pred_opt().expect("a day before");
                let label = if grain == Grain::Month {
                    start.format("%Y-%m").to_string()
                } else {
                    format!("{}-Q{}", start.year(), (start.month() - 1) / 3 + 1)
                };
                out.push(Period { label, start: start.max(from), end: end.min(as_of) });
                start = next;
            }
        }
    }
    out
}

/// Daily spend per team (all spend: `unallocated` is a team here) from `from` to the as-of date.
pub async fn daily_spend(cx: &Context, from: NaiveDate) -> anyhow::Result<BTreeMap<(NaiveDate, String), i128>> {
    let rows = query::run(&cx.ctx, "report_daily_spend.sql", DAILY_SQL, &cx.params_for(&cx.windows, from)).await?;
    let mut out: BTreeMap<(NaiveDate, String), i128> = BTreeMap::new();
    for r in rows {
        if let Some(day) = r[0].date() {
            *out.entry((day, r[1].text())).or_default() += r[4].money();
        }
    }
    Ok(out)
}

/// One day's volume of a metric: (day, metric, team or "" for company-wide, value at `VALUE_SCALE`).
pub type Volume = (NaiveDate, String, String, i128);

pub async fn volumes(cx: &Context, from: NaiveDate) -> anyhow::Result<Vec<Volume>> {
    if !cx.has_metrics {
        return Ok(Vec::new());
    }
    let rows = query::run(&cx.ctx, "unit_business_volume.sql", VOLUME_SQL, &cx.params_for(&cx.windows, from)).await?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((r[0].date()?, r[1].text(), r[2].text(), r[3].at_scale(VALUE_SCALE as u32))))
        .collect())
}

/// Cost per unit at `RATIO_SCALE`: spend (money scale) / volume (value scale).
pub fn per_unit(spend: i128, volume: i128) -> Option<i128> {
    // spend / 10^S over volume / 10^V, at 10^R: spend * 10^(R + V - S) / volume.
    let shift = RATIO_SCALE as i32 + VALUE_SCALE as i32 - SCALE as i32;
    (volume != 0).then(|| {
        if shift >= 0 {
            div_round(spend * 10i128.pow(shift as u32), volume)
        } else {
            div_round(spend, volume * 10i128.pow((-shift) as u32))
        }
    })
}

/// Spend per volume in basis points at `RATIO_SCALE`.
pub fn bps(spend: i128, volume: i128) -> Option<i128> {
    per_unit(spend * 10_000, volume)
}

/// One row of a unit-cost series.
#[derive(Debug, Clone)]
pub struct UnitRow {
    /// `company` or the team.
    pub scope: String,
    pub metric: String,
    pub period: Period,
    pub spend: i128,
    pub volume: i128,
    pub per_unit: Option<i128>,
    /// Change of cost per unit from the prior period, tenths of a percent.
    pub change: Option<i128>,
}

/// Unit costs per scope (company, and each team with its own metric), metric and period.
pub fn unit_rows(spend: &BTreeMap<(NaiveDate, String), i128>, volumes: &[Volume], periods: &[Period]) -> Vec<UnitRow> {
    // (scope team, metric) -> day -> volume
    let mut series: BTreeMap<(String, String), BTreeMap<NaiveDate, i128>> = BTreeMap::new();
    for (day, metric, team, value) in volumes {
        *series.entry((team.clone(), metric.clone())).or_default().entry(*day).or_default() += value;
    }
    let mut out = Vec::new();
    for ((team, metric), days) in &series {
        let mut prior: Option<i128> = None;
        for period in periods {
            let in_period = |d: &NaiveDate| *d >= period.start && *d <= period.end;
            let volume: i128 = days.iter().filter(|(d, _)| in_period(d)).map(|(_, v)| v).sum();
            let spent: i128 =
                spend.iter().filter(|((d, t), _)| in_period(d) && (team.is_empty() || t == team)).map(|(_, v)| v).sum();
            let unit = per_unit(spent, volume);
            let change = match (unit, prior) {
                (Some(now), Some(before)) => change_tenths(now, before),
                _ => None,
            };
            prior = unit;
            out.push(UnitRow {
                scope: if team.is_empty() { "company".into() } else { team.clone() },
                metric: metric.clone(),
                period: period.clone(),
                spend: spent,
                volume,
                per_unit: unit,
                change,
            });
        }
    }
    out
}

fn table(file: &str, title: String, rows: &[UnitRow], currency: &str) -> Table {
    let mut t = Table::new(
        file,
        title,
        vec![
            col("scope", "Scope", Kind::Text),
            col("metric", "Metric", Kind::Text),
            col("period", "Period", Kind::Text),
            col("from", "From", Kind::Text),
            col("to", "To", Kind::Text),
            col("spend", "Spend", Kind::Money),
            col("volume", "Volume", Kind::Volume),
            col("cost_per_unit", "Cost per unit", Kind::PerUnit),
            col("spend_bps_of_volume", "Spend / volume (bps)", Kind::Bps),
            col("change_pct", "Cost per unit vs prior", Kind::PercentChange),
        ],
        currency,
    );
    for r in rows {
        t.push(vec![
            r.scope.as_str().into(),
            r.metric.as_str().into(),
            r.period.label.as_str().into(),
            r.period.start.to_string().into(),
            r.period.end.to_string().into(),
            r.spend.into(),
            r.volume.into(),
            r.per_unit.into(),
            bps(r.spend, r.volume).into(),
            r.change.into(),
        ]);
    }
    t
}

/// A line per company metric of cost per unit over the periods.
pub fn unit_chart(title: &str, rows: &[UnitRow], periods: &[Period]) -> Option<String> {
    let company: Vec<&UnitRow> = rows.iter().filter(|r| r.scope == "company").collect();
    let mut metrics: Vec<&str> = company.iter().map(|r| r.metric.as_str()).collect();
    metrics.dedup();
    if metrics.is_empty() {
        return None;
    }
    let series: Vec<Series> = metrics
        .iter()
        .map(|m| Series {
            name: m.to_string(),
            values: periods
                .iter()
                .map(|p| {
                    company
                        .iter()
                        .find(|r| r.metric == *m && r.period == *p)
                        .and_then(|r| r.per_unit)
                        .map(|v| v as f64 / 10f64.powi(RATIO_SCALE as i32))
                })
                .collect(),
        })
        .collect();
    let labels: Vec<String> = periods.iter().map(|p| p.label.replace("week to ", "")).collect();
    Some(chart::lines(title, &labels, &series, "cost per unit"))
}

pub async fn build(cx: &Context) -> anyhow::Result<Document> {
    let cur = cx.currency.as_str();
    let from = quarter_start(cx.data_from.max(cx.as_of - Duration::days(7 * WEEKS))).min(Month::of(cx.as_of).first());
    let from = from.max(cx.data_from);
    let spend = daily_spend(cx, from).await?;
    let volumes = volumes(cx, from).await?;
    let mut sections = Vec::new();
    let mut notes = cx.notes();
    if volumes.is_empty() {
        notes.push(format!("The metrics file has no volume between {from} and {}.", cx.as_of));
    }
    let teams_with_metrics: std::collections::BTreeSet<&str> =
        volumes.iter().filter(|v| !v.2.is_empty()).map(|v| v.2.as_str()).collect();
    for grain in [Grain::Week, Grain::Month, Grain::Quarter] {
        let periods = periods(grain, from, cx.as_of);
        let rows = unit_rows(&spend, &volumes, &periods);
        let title = match grain {
            Grain::Week => "Per week",
            Grain::Month => "Per month",
            Grain::Quarter => "Per quarter",
        };
        let mut section =
            Section { id: grain.name(), title: title.into(), paragraphs: Vec::new(), ..Default::default() };
        if let Some(latest) =
            rows.iter().find(|r| r.scope == "company" && r.period == *periods.last().expect("a period"))
        {
            section.paragraphs.push(format!(
                "{}: {} spent for {} {} ({} per unit{}).",
                latest.period.label,
                format::money(latest.spend, cur),
                format::number(latest.volume, VALUE_SCALE as u32, 2),
                latest.metric,
                latest.per_unit.map_or("–".into(), |v| format!("{} {cur}", format::number(v, RATIO_SCALE, 4))),
                latest
                    .change
                    .map_or(String::new(), |c| format!(", {} on the period before", format::percent_change(c))),
            ));
        }
        if let Some(svg) = unit_chart(&format!("Cost per unit, {}", grain.name()), &rows, &periods) {
            section.charts.push(svg);
        }
        section.tables.push(table(
            &format!("unit_economics_{}", grain.name()),
            format!("Cost per unit and spend per volume, {}", grain.name()),
            &rows,
            cur,
        ));
        sections.push(section);
    }
    let first = sections.first_mut().expect("three sections");
    first.paragraphs.insert(
        0,
        format!(
            "Company-wide rows divide all spend (shared and unallocated included) by company-wide volume (metric rows without a team); {} team(s) with their own metric ({}) are divided by their own spend, shared costs included. Basis points: spend per 10,000 units of volume (for a dollar volume, spend per $10,000 processed). Periods are clipped to the data ({} to {}).",
            teams_with_metrics.len(),
            if teams_with_metrics.is_empty() { "none".to_string() } else { teams_with_metrics.iter().copied().collect::<Vec<_>>().join(", ") },
            from,
            cx.as_of
        ),
    );
    Ok(Document {
        kind: "unit-economics",
        as_of: cx.as_of,
        title: format!("Spend per business volume to {}", cx.as_of),
        subtitle: cx.basis(),
        freshness: cx.freshness(),
        kpis: Vec::new(),
        sections,
        notes,
    })
}

/// Last day of a month, for callers that build month windows.
pub fn last_day(day: NaiveDate) -> NaiveDate {
    Month::of(day).last()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::ONE as MONEY_ONE;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods_are_clipped_to_the_data() {
        let months = periods(Grain::Month, d("2026-08-10"), d("2026-10-15"));
        let labels: Vec<_> = months.iter().map(|p| (p.label.as_str(), p.start, p.end)).collect();
        assert_eq!(
            labels,
            vec![
                ("2026-08", d("2026-08-10"), d("2026-08-31")),
                ("2026-09", d("2026-09-01"), d("2026-09-30")),
                ("2026-10", d("2026-10-01"), d("2026-10-15"))
            ]
        );
        let quarters = periods(Grain::Quarter, d("2026-08-10"), d("2026-10-15"));
        assert_eq!(quarters.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), ["2026-Q3", "2026-Q4"]);
        let weeks = periods(Grain::Week, d("2026-10-01"), d("2026-10-31"));
        assert_eq!(weeks.last().unwrap().start, d("2026-10-25"));
        assert_eq!(weeks.first().unwrap().start, d("2026-10-01"));
    }

    #[test]
    fn cost_per_unit_and_basis_points_are_exact() {
        let volume = 8 * 10i128.pow(VALUE_SCALE as u32); // 8 units
        assert_eq!(per_unit(MONEY_ONE, volume), Some(1_250_000_000)); // 0.125
        assert_eq!(bps(MONEY_ONE, volume), Some(12_500_000_000_000)); // 1250 bps
        assert_eq!(per_unit(MONEY_ONE, 0), None);
    }
}
