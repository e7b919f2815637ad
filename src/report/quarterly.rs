//! Quarterly trends for QBRs: monthly spend per org (a line each), quarter
//! totals with the change from the quarter before, unit cost per month when
//! business metrics are given, and commitment coverage of usage.

use std::collections::BTreeMap;

use chrono::Duration;

use super::chart::{self, Series};
use super::context::Context;
use super::document::{Document, Kpi, Section};
use super::query;
use super::table::{Kind, Table, col};
use super::unit_economics::{self, Grain, Period, periods};
use super::weekly::DAILY_SQL;
use crate::calendar::Month;
use crate::money::text::{self as format, change_tenths, share_tenths};

/// A month or quarter with every day of the data: only whole periods are compared with each other.
fn whole(p: &Period, grain: Grain) -> bool {
    let full = periods(grain, p.start, p.end);
    full.len() == 1 && Month::of(p.start).first() == p.start && {
        let next =
            if grain == Grain::Month { Month::of(p.start).next().first() } else { Month::of(p.start).plus(3).first() };
        next.pred_opt() == Some(p.end)
    }
}

const COMMITMENT_SQL: &str = include_str!("../../queries/quarterly_commitment_coverage.sql");
/// Lines drawn; smaller orgs are summed as "other orgs".
const CHART_ORGS: usize = 7;

pub async fn build(cx: &Context) -> anyhow::Result<Document> {
    let cur = cx.currency.as_str();
    // Four quarters to the as-of date, clipped to the data.
    let first = Month::of(cx.as_of - Duration::days(366)).next().first();
    let from = Month::of(first).first().max(cx.data_from);
    let daily = query::run(&cx.ctx, "report_daily_spend.sql", DAILY_SQL, &cx.params_for(&cx.windows, from)).await?;
    let months = periods(Grain::Month, from, cx.as_of);
    let quarters = periods(Grain::Quarter, from, cx.as_of);
    // org -> month label -> spend
    let mut series: BTreeMap<String, BTreeMap<String, i128>> = BTreeMap::new();
    let mut per_quarter: BTreeMap<String, BTreeMap<String, i128>> = BTreeMap::new();
    for r in &daily {
        let Some(day) = r[0].date() else { continue };
        let path = r[2].text();
        let current = r[3].text();
        let org = cx.org_of(&path, &current).to_string();
        let cost = r[4].money();
        if let Some(m) = months.iter().find(|p| day >= p.start && day <= p.end) {
            *series.entry(org.clone()).or_default().entry(m.label.clone()).or_default() += cost;
        }
        if let Some(q) = quarters.iter().find(|p| day >= p.start && day <= p.end) {
            *per_quarter.entry(org).or_default().entry(q.label.clone()).or_default() += cost;
        }
    }
    let mut sections = Vec::new();

    // Monthly per org: table (long form) and a line per org.
    let mut table = Table::new(
        "quarterly_monthly_by_org",
        "Monthly spend per org",
        vec![
            col("org", "Org", Kind::Text),
            col("month", "Month", Kind::Text),
            col("from", "From", Kind::Text),
            col("to", "To", Kind::Text),
            col("spend", "Spend", Kind::Money),
            col("change_pct", "vs month before", Kind::PercentChange),
        ],
        cur,
    );
    let total_of = |org: &str| series.get(org).map_or(0, |m| m.values().sum::<i128>());
    let mut orgs: Vec<&String> = series.keys().collect();
    orgs.sort_by(|a, b| total_of(b).cmp(&total_of(a)).then_with(|| a.cmp(b)));
    for org in &orgs {
        let mut before: Option<i128> = None;
        for m in &months {
            let v = series[*org].get(&m.label).copied().unwrap_or(0);
            if !whole(m, Grain::Month) {
                before = None;
            }
            table.push(vec![
                org.as_str().into(),
                m.label.as_str().into(),
                m.start.to_string().into(),
                m.end.to_string().into(),
                v.into(),
                before.and_then(|b| change_tenths(v, b)).into(),
            ]);
            before = whole(m, Grain::Month).then_some(v);
        }
    }
    let mut lines: Vec<Series> = orgs
        .iter()
        .take(CHART_ORGS)
        .map(|org| Series {
            name: org.to_string(),
            values: months
                .iter()
                .map(|m| Some(chart::coordinate(series[*org].get(&m.label).copied().unwrap_or(0))))
                .collect(),
        })
        .collect();
    if orgs.len() > CHART_ORGS {
        lines.push(Series {
            name: "other orgs".into(),
            values: months
                .iter()
                .map(|m| {
                    let v: i128 =
                        orgs[CHART_ORGS..].iter().map(|o| series[*o].get(&m.label).copied().unwrap_or(0)).sum();
                    Some(chart::coordinate(v))
                })
                .collect(),
        })
    }
    let labels: Vec<String> = months.iter().map(|m| m.label.clone()).collect();
    let chart = chart::lines(&format!("Monthly spend per org ({cur})"), &labels, &lines, cur);

    // Quarter totals.
    let mut quarter_table = Table::new(
        "quarterly_by_org",
        "Spend per org and quarter",
        vec![
            col("org", "Org", Kind::Text),
            col("quarter", "Quarter", Kind::Text),
            col("from", "From", Kind::Text),
            col("to", "To", Kind::Text),
            col("spend", "Spend", Kind::Money),
            col("share_pct", "Share", Kind::Percent),
            col("change_pct", "vs quarter before", Kind::PercentChange),
        ],
        cur,
    );
    let quarter_total = |label: &str| per_quarter.values().map(|m| m.get(label).copied().unwrap_or(0)).sum::<i128>();
    for org in &orgs {
        let mut before: Option<i128> = None;
        for q in &quarters {
            let v = per_quarter.get(*org).and_then(|m| m.get(&q.label)).copied().unwrap_or(0);
            if !whole(q, Grain::Quarter) {
                before = None;
            }
            quarter_table.push(vec![
                org.as_str().into(),
                q.label.as_str().into(),
                q.start.to_string().into(),
                q.end.to_string().into(),
                v.into(),
                share_tenths(v, quarter_total(&q.label)).into(),
                before.and_then(|b| change_tenths(v, b)).into(),
            ]);
            before = whole(q, Grain::Quarter).then_some(v);
        }
    }
    let mut kpis = Vec::new();
    for q in quarters.iter().rev().take(2).rev() {
        let v = quarter_total(&q.label);
        kpis.push(Kpi {
            label: format!("{} ({} to {})", q.label, q.start, q.end),
            value: format::money(v, cur),
            exact: super::table::exact(v, crate::money::SCALE as u32),
            change: String::new(),
        });
    }
    sections.push(Section {
        id: "orgs",
        title: "Spend per org".into(),
        paragraphs: vec![format!(
            "Months and quarters from {from} to {}; the first and last are partial where the data or the as-of date cut them (see From and To), and only whole periods are compared with the one before. Orgs roll up {}.",
            cx.as_of,
            cx.options.rollup.words()
        )],
        charts: vec![chart],
        tables: vec![quarter_table, table],
        ..Default::default()
    });

    // Unit cost per month.
    let mut unit = Section { id: "unit-cost", title: "Unit cost per month".into(), ..Default::default() };
    if cx.has_metrics {
        let spend = unit_economics::daily_spend(cx, from).await?;
        let volumes = unit_economics::volumes(cx, from).await?;
        let rows: Vec<_> =
            unit_economics::unit_rows(&spend, &volumes, &months).into_iter().filter(|r| r.scope == "company").collect();
        if let Some(svg) = unit_economics::unit_chart("Cost per unit per month", &rows, &months) {
            unit.charts.push(svg);
        }
        let mut t = Table::new(
            "quarterly_unit_cost",
            "Company cost per unit per month",
            vec![
                col("metric", "Metric", Kind::Text),
                col("month", "Month", Kind::Text),
                col("spend", "Spend", Kind::Money),
                col("volume", "Volume", Kind::Volume),
                col("cost_per_unit", "Cost per unit", Kind::PerUnit),
                col("change_pct", "vs month before", Kind::PercentChange),
            ],
            cur,
        );
        for r in &rows {
            t.push(vec![
                r.metric.as_str().into(),
                r.period.label.as_str().into(),
                r.spend.into(),
                r.volume.into(),
                r.per_unit.into(),
                r.change.into(),
            ]);
        }
        unit.paragraphs.push("All spend (shared and unallocated included) per unit of company-wide volume.".into());
        unit.tables.push(t);
    } else {
        unit.paragraphs.push("No business metrics given (--metrics FILE): no unit-cost series.".into());
    }
    sections.push(unit);

    // Commitment coverage.
    let rows =
        query::run(&cx.ctx, "quarterly_commitment_coverage.sql", COMMITMENT_SQL, &cx.params_for(&cx.windows, from))
            .await?;
    let mut coverage = Section { id: "commitments", title: "Commitment coverage".into(), ..Default::default() };
    let committed_any = rows.iter().any(|r| r[2].money() != 0);
    let mut t = Table::new(
        "quarterly_commitment_coverage",
        "Usage on commitments per month",
        vec![
            col("month", "Month", Kind::Text),
            col("usage_cost", "Usage cost", Kind::Money),
            col("committed_cost", "On commitments", Kind::Money),
            col("coverage_pct", "Coverage", Kind::Percent),
        ],
        cur,
    );
    for r in &rows {
        let month = r[0].date().map_or(String::new(), |d| d.format("%Y-%m").to_string());
        t.push(vec![
            month.into(),
            r[1].money().into(),
            r[2].money().into(),
            share_tenths(r[2].money(), r[1].money()).into(),
        ]);
    }
    coverage.paragraphs.push(if committed_any {
        "Share of usage cost (amortized) priced on commitments (FOCUS PricingCategory = Committed: savings plans, reservations, committed use).".into()
    } else {
        "No usage priced on commitments in this period (PricingCategory Committed): commitment coverage is not available from this data.".into()
    });
    coverage.tables.push(t);
    sections.push(coverage);

    Ok(Document {
        kind: "quarterly",
        as_of: cx.as_of,
        title: format!("Quarterly trends to {}", cx.as_of),
        subtitle: cx.basis(),
        freshness: cx.freshness(),
        kpis,
        sections,
        notes: cx.notes(),
    })
}
