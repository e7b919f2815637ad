//! Leaderboards, fair to growing teams: biggest spenders and fastest growers are
//! shown for context, while the boards that earn badges reward efficiency
//! whatever a team's size: most improved unit cost, verified savings, best tag
//! coverage, and cutting spend month over month.
//!
//! All boards compare month to date with the same days of the month before.

use std::collections::{BTreeMap, BTreeSet};

use super::context::Context;
use super::document::{Badge, Document, Section};
use super::table::{Cell, Kind, Table, col};
use super::unit_economics::{self, Period};
use super::weekly::{per_team, spend_by_team};
use crate::attribute::org::UNALLOCATED;
use crate::money::text::{self as format, change_tenths, share_tenths};

const RULES_SQL: &str = include_str!("../../queries/leaderboard_spend_by_rule.sql");
const SAVINGS_SQL: &str = include_str!("../../queries/leaderboard_verified_savings.sql");

/// Rows per board.
const TOP: usize = 10;
/// A team's spend month over month counts for growth and cuts only when it had at
/// least this share of company spend before (tenths of a percent): tiny bases make
/// huge percentages.
const MIN_BASE_TENTHS: i128 = 10;
/// A cut or unit-cost improvement of at least this (tenths of a percent) earns a badge.
const BADGE_TENTHS: i128 = 100;

pub async fn build(cx: &Context) -> anyhow::Result<Document> {
    let cur = cx.currency.as_str();
    let w = cx.windows;
    let rows = spend_by_team(cx).await?;
    let teams: BTreeMap<String, ([i128; 4], String)> =
        per_team(&rows).into_iter().filter(|(t, _)| t != UNALLOCATED).collect();
    let company_now: i128 = rows.iter().map(|r| r.spend[2]).sum();
    let company_before: i128 = rows.iter().map(|r| r.spend[3]).sum();
    let mut badges: Vec<Badge> = Vec::new();
    let mut sections = Vec::new();
    let window = format!("Month to date ({} to {}) against the {}.", w.month_start, w.as_of, w.month_comparison());

    // Biggest spenders.
    let mut by_spend: Vec<(&String, &([i128; 4], String))> = teams.iter().collect();
    by_spend.sort_by(|a, b| b.1.0[2].cmp(&a.1.0[2]).then_with(|| a.0.cmp(b.0)));
    let mut spenders = Table::new(
        "leaderboard_biggest_spenders",
        "Biggest spenders, month to date",
        vec![
            col("rank", "#", Kind::Count),
            col("team", "Team", Kind::Text),
            col("org", "Org", Kind::Text),
            col("month_to_date", "Month to date", Kind::Money),
            col("share_pct", "Share of company", Kind::Percent),
        ],
        cur,
    );
    for (i, (team, (s, org))) in by_spend.iter().take(TOP).enumerate() {
        spenders.push(vec![
            (i as i128 + 1).into(),
            team.as_str().into(),
            org.as_str().into(),
            s[2].into(),
            share_tenths(s[2], company_now).into(),
        ]);
    }

    // Fastest growers and cuts, on a fair base.
    let floor = company_before * MIN_BASE_TENTHS / 1000;
    let mut moves: Vec<(&String, i128, i128, i128)> = teams
        .iter()
        .filter(|(_, (s, _))| s[3] > 0 && s[3] >= floor)
        .filter_map(|(t, (s, _))| change_tenths(s[2], s[3]).map(|p| (t, s[2], s[3], p)))
        .collect();
    moves.sort_by(|a, b| b.3.cmp(&a.3).then_with(|| a.0.cmp(b.0)));
    let mut growers = Table::new(
        "leaderboard_fastest_growers",
        "Fastest growers, month over month",
        vec![
            col("rank", "#", Kind::Count),
            col("team", "Team", Kind::Text),
            col("month_to_date", "Month to date", Kind::Money),
            col("prior_month_to_date", "Same days last month", Kind::Money),
            col("change", "Change", Kind::MoneyChange),
            col("change_pct", "MoM %", Kind::PercentChange),
        ],
        cur,
    );
    for (i, (team, now, before, pct)) in moves.iter().filter(|m| m.3 > 0).take(TOP).enumerate() {
        growers.push(vec![
            (i as i128 + 1).into(),
            team.as_str().into(),
            (*now).into(),
            (*before).into(),
            (now - before).into(),
            (*pct).into(),
        ]);
    }
    for (team, _, _, pct) in moves.iter().rev().filter(|m| m.3 <= -BADGE_TENTHS) {
        badges.push(Badge {
            team: team.to_string(),
            label: format!("cut spend {} month over month", format::percent(-pct)),
        });
    }
    sections.push(Section {
        id: "spend",
        title: "Biggest spenders and fastest growers".into(),
        paragraphs: vec![
            window.clone(),
            format!(
                "Growth is context, not a ranking to win: a growing product spends more. Growers count only teams that spent at least {} of company spend before ({}), so a small base cannot top the board.",
                format::percent(MIN_BASE_TENTHS),
                format::money(floor, cur)
            ),
        ],
        tables: vec![spenders, growers],
        ..Default::default()
    });

    // Most improved unit cost.
    sections.push(unit_cost(cx, &mut badges).await?);

    // Verified savings.
    sections.push(savings(cx, &mut badges).await?);

    // Allocation hygiene.
    sections.push(hygiene(cx, &mut badges).await?);

    let badge_section = {
        let mut table = Table::new(
            "leaderboard_badges",
            "Badges",
            vec![col("team", "Team", Kind::Text), col("badge", "Badge", Kind::Text)],
            cur,
        );
        for b in &badges {
            table.push(vec![b.team.as_str().into(), b.label.as_str().into()]);
        }
        Section {
            id: "badges",
            title: "Badges for wins".into(),
            paragraphs: vec![if badges.is_empty() {
                "No badges this month yet.".to_string()
            } else {
                format!(
                    "{} badge(s): a cut of {} or more month over month, unit cost down {} or more, verified savings, or reaching full tag coverage.",
                    badges.len(),
                    format::percent(BADGE_TENTHS),
                    format::percent(BADGE_TENTHS)
                )
            }],
            badges: badges.clone(),
            tables: vec![table],
            ..Default::default()
        }
    };
    sections.insert(0, badge_section);

    Ok(Document {
        kind: "leaderboard",
        as_of: cx.as_of,
        title: format!("Leaderboard: month to {}", cx.as_of),
        subtitle: cx.basis(),
        freshness: cx.freshness(),
        kpis: Vec::new(),
        sections,
        notes: cx.notes(),
    })
}

async fn unit_cost(cx: &Context, badges: &mut Vec<Badge>) -> anyhow::Result<Section> {
    let cur = cx.currency.as_str();
    let w = cx.windows;
    let mut section = Section { id: "unit-cost", title: "Most improved unit cost".into(), ..Default::default() };
    if !cx.has_metrics {
        section.paragraphs.push(
            "No business metrics given (--metrics FILE with date, metric, value, team): unit costs cannot be ranked."
                .into(),
        );
        return Ok(section);
    }
    let spend = unit_economics::daily_spend(cx, w.prior_month_start).await?;
    let volumes = unit_economics::volumes(cx, w.prior_month_start).await?;
    let periods = [
        Period { label: "before".into(), start: w.prior_month_start, end: w.prior_month_end },
        Period { label: "now".into(), start: w.month_start, end: w.as_of },
    ];
    let rows = unit_economics::unit_rows(&spend, &volumes, &periods);
    let mut improved: Vec<(String, String, i128, i128, i128)> = Vec::new();
    let scopes: BTreeSet<(String, String)> =
        rows.iter().filter(|r| r.scope != "company").map(|r| (r.scope.clone(), r.metric.clone())).collect();
    for (team, metric) in scopes {
        let find = |label: &str| {
            rows.iter()
                .find(|r| r.scope == team && r.metric == metric && r.period.label == label)
                .and_then(|r| r.per_unit)
        };
        if let (Some(before), Some(now)) = (find("before"), find("now"))
            && let Some(pct) = change_tenths(now, before)
        {
            improved.push((team, metric, now, before, pct));
        }
    }
    improved.sort_by(|a, b| a.4.cmp(&b.4).then_with(|| a.0.cmp(&b.0)).then_with(|| a.1.cmp(&b.1)));
    let mut table = Table::new(
        "leaderboard_unit_cost",
        "Most improved unit cost, month over month",
        vec![
            col("rank", "#", Kind::Count),
            col("team", "Team", Kind::Text),
            col("metric", "Metric", Kind::Text),
            col("cost_per_unit", "Cost per unit", Kind::PerUnit),
            col("prior_cost_per_unit", "Before", Kind::PerUnit),
            col("change_pct", "Change", Kind::PercentChange),
        ],
        cur,
    );
    for (i, (team, metric, now, before, pct)) in improved.iter().take(TOP).enumerate() {
        table.push(vec![
            (i as i128 + 1).into(),
            team.as_str().into(),
            metric.as_str().into(),
            (*now).into(),
            (*before).into(),
            (*pct).into(),
        ]);
        if *pct <= -BADGE_TENTHS {
            badges.push(Badge {
                team: team.clone(),
                label: format!("unit cost per {metric} down {}", format::percent(-pct)),
            });
        }
    }
    section.paragraphs.push(
        "A team's spend (its shared costs included) per unit of its own metric, month to date against the same days of the month before: lower is better, whatever the team's growth.".into(),
    );
    if table.rows.is_empty() {
        section.paragraphs.push("No team has a metric of its own in both periods.".into());
    }
    section.tables.push(table);
    Ok(section)
}

async fn savings(cx: &Context, badges: &mut Vec<Badge>) -> anyhow::Result<Section> {
    let cur = cx.currency.as_str();
    let mut section = Section { id: "savings", title: "Verified savings".into(), ..Default::default() };
    if !cx.has_findings {
        section.paragraphs.push(
            "The lake has no findings table yet (`tally findings` writes it): no verified savings to show.".into(),
        );
        return Ok(section);
    }
    let rows = cx.query("leaderboard_verified_savings.sql", SAVINGS_SQL).await?;
    let Some(latest) = rows.iter().map(|r| r[1].text()).max() else {
        section.paragraphs.push(format!("No verified savings in {cur} up to {}.", cx.as_of.format("%Y-%m")));
        return Ok(section);
    };
    let mut latest_rows: Vec<(String, i128, i128)> =
        rows.iter().filter(|r| r[1].text() == latest).map(|r| (r[0].text(), r[3].money(), r[2].at_scale(0))).collect();
    latest_rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut table = Table::new(
        "leaderboard_verified_savings",
        format!("Verified savings measured in {latest}"),
        vec![
            col("rank", "#", Kind::Count),
            col("team", "Team", Kind::Text),
            col("monthly_savings", "Savings per month", Kind::Money),
            col("initiatives", "Initiatives", Kind::Count),
        ],
        cur,
    );
    let total: i128 = latest_rows.iter().map(|r| r.1).sum();
    for (i, (team, amount, count)) in latest_rows.iter().take(TOP).enumerate() {
        table.push(vec![(i as i128 + 1).into(), team.as_str().into(), (*amount).into(), (*count).into()]);
    }
    for (team, amount, _) in latest_rows.iter().filter(|r| r.1 > 0) {
        badges.push(Badge {
            team: team.clone(),
            label: format!("verified savings of {} a month", format::money(*amount, cur)),
        });
    }
    section.paragraphs.push(format!(
        "Savings the efficiency findings measured and verified (kind realized_savings, status verified) in {latest}: {} a month across {} team(s).",
        format::money(total, cur),
        latest_rows.len()
    ));
    section.tables.push(table);
    Ok(section)
}

/// Rule ids whose match means the resource carried an owner tag.
fn tag_rules(cx: &Context) -> BTreeSet<String> {
    cx.mappings()
        .rules
        .rules
        .iter()
        .filter(|r| !r.tags.is_empty() || r.team_from_tag.is_some())
        .map(|r| r.id.clone())
        .collect()
}

async fn hygiene(cx: &Context, badges: &mut Vec<Badge>) -> anyhow::Result<Section> {
    let cur = cx.currency.as_str();
    let tagged = tag_rules(cx);
    let rows = cx.query("leaderboard_spend_by_rule.sql", RULES_SQL).await?;
    // team -> [direct now, via tags now, direct before, via tags before]
    let mut windows: BTreeMap<String, [i128; 4]> = BTreeMap::new();
    for r in &rows {
        let entry = windows.entry(r[0].text()).or_default();
        let (now, before) = (r[2].money(), r[3].money());
        entry[0] += now;
        entry[2] += before;
        if tagged.contains(&r[1].text()) {
            entry[1] += now;
            entry[3] += before;
        }
    }
    let teams: BTreeMap<String, (i128, i128)> = windows.iter().map(|(t, w)| (t.clone(), (w[0], w[1]))).collect();
    let mut ranked: Vec<(String, i128, i128, i128)> = teams
        .into_iter()
        .filter(|(_, (direct, _))| *direct > 0)
        .filter_map(|(t, (direct, via_tags))| share_tenths(via_tags, direct).map(|s| (t, direct, via_tags, s)))
        .collect();
    ranked.sort_by(|a, b| b.3.cmp(&a.3).then_with(|| b.1.cmp(&a.1)).then_with(|| a.0.cmp(&b.0)));
    let mut table = Table::new(
        "leaderboard_tag_coverage",
        "Best tag coverage, month to date",
        vec![
            col("rank", "#", Kind::Count),
            col("team", "Team", Kind::Text),
            col("direct_spend", "Owned directly", Kind::Money),
            col("via_tags", "Owned through tags", Kind::Money),
            col("tag_coverage_pct", "Tag coverage", Kind::Percent),
        ],
        cur,
    );
    for (i, (team, direct, via, share)) in ranked.iter().take(TOP).enumerate() {
        table.push(vec![
            (i as i128 + 1).into(),
            team.as_str().into(),
            (*direct).into(),
            (*via).into(),
            Cell::Num(*share),
        ]);
    }
    // A win is getting there: fully tagged now, not over the same days last month.
    for (team, direct, via, _) in &ranked {
        let w = windows[team];
        if via == direct && w[2] > 0 && w[3] < w[2] {
            badges.push(Badge {
                team: team.clone(),
                label: "tagged every directly owned dollar, up from last month".into(),
            });
        }
    }
    Ok(Section {
        id: "hygiene",
        title: "Allocation hygiene".into(),
        paragraphs: vec![format!(
            "Share of each team's directly owned spend that it owns through an owner tag (rules on tags: {}), rather than a whole account or a name pattern. Tags survive account moves and shared accounts.",
            if tagged.is_empty() {
                "none in the mappings".to_string()
            } else {
                tagged.iter().cloned().collect::<Vec<_>>().join(", ")
            }
        )],
        tables: vec![table],
        ..Default::default()
    })
}
