//! The weekly ops review: total spend and its change week over week and month
//! over month, by org and team, the top movers and what drove them, the teams
//! carrying 80% of spend, coverage and why spend is unallocated, budgets.

use std::collections::BTreeMap;

use chrono::Duration;

use super::chart::{self, Series};
use super::context::{Context, change, money_columns, org_of_path};
use super::document::{Document, Kpi, Section};
use super::query;
use super::table::{Cell, Kind, Table, col};
use crate::attribute::org::UNALLOCATED;
use crate::budget;
use crate::calendar::Month;
use crate::money::text::{self as format, change_tenths, share_tenths};

const SPEND_SQL: &str = include_str!("../../queries/weekly_spend_by_team.sql");
/// Shared with nudges: per team and dimension, this week against the week before.
const REASONS_SQL: &str = include_str!("../../queries/weekly_unallocated_reasons.sql");
pub(crate) const DAILY_SQL: &str = include_str!("../../queries/report_daily_spend.sql");

/// Movers shown with their drivers.
const TOP_MOVERS: usize = 5;
/// Share of spend the Pareto view explains, in tenths of a percent.
const PARETO_TENTHS: i128 = 800;

/// One row of `weekly_spend_by_team.sql`.
#[derive(Debug, Clone)]
pub struct TeamSpend {
    pub team: String,
    pub org_path: String,
    pub org_path_current: String,
    pub method: String,
    /// This week, prior week, month to date, same days of the month before.
    pub spend: [i128; 4],
}

pub async fn spend_by_team(cx: &Context) -> anyhow::Result<Vec<TeamSpend>> {
    let rows = cx.query("weekly_spend_by_team.sql", SPEND_SQL).await?;
    Ok(rows
        .iter()
        .map(|r| TeamSpend {
            team: r[0].text(),
            org_path: r[1].text(),
            org_path_current: r[2].text(),
            method: r[3].text(),
            spend: money_columns(r, 4),
        })
        .collect())
}

fn add(into: &mut [i128; 4], from: &[i128; 4]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

/// Per team: spend in the four windows, and the team's org today.
pub fn per_team(rows: &[TeamSpend]) -> BTreeMap<String, ([i128; 4], String)> {
    let mut teams: BTreeMap<String, ([i128; 4], String)> = BTreeMap::new();
    for r in rows {
        let entry = teams.entry(r.team.clone()).or_insert_with(|| ([0; 4], org_of_path(&r.org_path_current).into()));
        add(&mut entry.0, &r.spend);
    }
    teams
}

/// Largest first, then by name.
fn ranked<T: Clone>(map: &BTreeMap<String, T>, key: impl Fn(&T) -> i128) -> Vec<(String, T)> {
    let mut v: Vec<(String, T)> = map.iter().map(|(k, t)| (k.clone(), t.clone())).collect();
    v.sort_by(|a, b| key(&b.1).cmp(&key(&a.1)).then_with(|| a.0.cmp(&b.0)));
    v
}

fn window_columns(first: &'static str, heading: &'static str) -> Vec<super::table::Column> {
    vec![
        col(first, heading, Kind::Text),
        col("this_week", "This week", Kind::Money),
        col("prior_week", "Prior week", Kind::Money),
        col("week_change", "Change", Kind::MoneyChange),
        col("week_change_pct", "Change %", Kind::PercentChange),
        col("month_to_date", "Month to date", Kind::Money),
        col("prior_month_to_date", "Same days last month", Kind::Money),
        col("month_change_pct", "MoM %", Kind::PercentChange),
    ]
}

fn window_cells(s: &[i128; 4]) -> Vec<Cell> {
    let (delta, pct) = change(s[0], s[1]);
    vec![s[0].into(), s[1].into(), delta.into(), pct.into(), s[2].into(), s[3].into(), change_tenths(s[2], s[3]).into()]
}

pub async fn build(cx: &Context) -> anyhow::Result<Document> {
    let w = cx.windows;
    let cur = cx.currency.as_str();
    let rows = spend_by_team(cx).await?;
    let mut total = [0i128; 4];
    rows.iter().for_each(|r| add(&mut total, &r.spend));
    let teams = per_team(&rows);

    let mut sections = Vec::new();

    // Headline.
    let (week_delta, week_pct) = change(total[0], total[1]);
    let month_pct = change_tenths(total[2], total[3]);
    let unallocated_week: i128 = rows.iter().filter(|r| r.method == "unallocated").map(|r| r.spend[0]).sum();
    let pct_text = |p: Option<i128>| p.map_or("no spend before".to_string(), format::percent_change);
    let mut kpis = vec![
        Kpi {
            label: "Spend this week".into(),
            value: format::money(total[0], cur),
            exact: super::table::exact(total[0], crate::money::SCALE as u32),
            change: format!("{} ({}) vs prior week", pct_text(week_pct), format::money_change(week_delta, cur)),
        },
        Kpi {
            label: "Month to date".into(),
            value: format::money(total[2], cur),
            exact: super::table::exact(total[2], crate::money::SCALE as u32),
            change: format!("{} vs {}", pct_text(month_pct), w.month_comparison()),
        },
        Kpi {
            label: "Unallocated this week".into(),
            value: format::money(unallocated_week, cur),
            exact: super::table::exact(unallocated_week, crate::money::SCALE as u32),
            change: share_tenths(unallocated_week, total[0])
                .map_or(String::new(), |s| format!("{} of spend", format::percent(s))),
        },
    ];

    // Daily spend over the last five weeks.
    let from = w.as_of - Duration::days(34);
    let daily = query::run(&cx.ctx, "report_daily_spend.sql", DAILY_SQL, &cx.params_for(&w, from)).await?;
    let mut per_day: BTreeMap<chrono::NaiveDate, i128> = BTreeMap::new();
    for r in &daily {
        if let Some(day) = r[0].date() {
            *per_day.entry(day).or_default() += r[4].money();
        }
    }
    let days: Vec<chrono::NaiveDate> = (0..35).map(|i| from + Duration::days(i)).collect();
    let mut daily_table = Table::new(
        "weekly_daily_spend",
        "Daily spend, last five weeks",
        vec![col("day", "Day", Kind::Text), col("spend", "Spend", Kind::Money)],
        cur,
    );
    daily_table.detail = true;
    for day in &days {
        if let Some(v) = per_day.get(day) {
            daily_table.push(vec![day.to_string().into(), (*v).into()]);
        }
    }
    let daily_chart = chart::lines(
        &format!("Daily spend ({cur}), 5 weeks to {}", w.as_of),
        &days.iter().map(|d| d.format("%b %d").to_string()).collect::<Vec<_>>(),
        &[Series {
            name: "spend".into(),
            values: days.iter().map(|d| per_day.get(d).map(|v| chart::coordinate(*v))).collect(),
        }],
        cur,
    );
    sections.push(Section {
        id: "spend",
        title: "Spend".into(),
        paragraphs: vec![format!(
            "This week ({} to {}) the company spent {}, {} the week before ({}). Month to date ({} to {}) {}, against {} over the {}.",
            w.week_start,
            w.as_of,
            format::money(total[0], cur),
            match week_pct {
                Some(p) => format!("{} on", format::percent_change(p)),
                None => "with no spend".into(),
            },
            format::money(total[1], cur),
            w.month_start,
            w.as_of,
            format::money(total[2], cur),
            format::money(total[3], cur),
            w.month_comparison(),
        )],
        charts: vec![daily_chart],
        tables: vec![daily_table],
        ..Default::default()
    });

    // With a reporting currency: what the company was billed in each currency.
    if let Some(rows) = super::billed_in::load(cx).await? {
        let company = super::billed_in::per_currency(&rows);
        let lead = format!(
            "Every amount in this report is in {cur}: spend billed in another currency is converted at its month's rate (currency.toml, locked with the month; the rate is {cur} per unit). Each team's page shows its own."
        );
        sections.push(super::billed_in::section(
            cx,
            "weekly_billing_currencies",
            &company.iter().collect::<Vec<_>>(),
            lead,
        ));
    }

    // By org.
    let mut orgs: BTreeMap<String, [i128; 4]> = BTreeMap::new();
    for r in &rows {
        add(orgs.entry(cx.org_of(&r.org_path, &r.org_path_current).to_string()).or_default(), &r.spend);
    }
    // Names link to the pages written beside this report (super::pages).
    let mut org_table = Table::new("weekly_by_org", "By org", window_columns("org", "Org"), cur);
    org_table.link_column = Some(0);
    for (org, s) in ranked(&orgs, |s| s[0]) {
        let href = cx.org().is_node(&org).then(|| super::pages::org_page(&org));
        let mut row = vec![org.into()];
        row.extend(window_cells(&s));
        org_table.push_linked(row, href);
    }
    let mut team_columns = window_columns("team", "Team");
    team_columns.insert(1, col("org", "Org (today)", Kind::Text));
    let mut team_table = Table::new("weekly_by_team", "By team", team_columns, cur);
    team_table.link_column = Some(0);
    for (team, (s, org)) in ranked(&teams, |t| t.0[0]) {
        let href = cx.org().is_team(&team).then(|| super::pages::team_page(&team));
        let mut row = vec![team.into(), org.into()];
        row.extend(window_cells(&s));
        team_table.push_linked(row, href);
    }
    sections.push(Section {
        id: "by-org",
        title: "By org and team".into(),
        paragraphs: vec![format!(
            "Orgs roll up {}. In the HTML report each name opens its page (teams/index.html lists them all).",
            cx.options.rollup.words()
        )],
        tables: vec![org_table, team_table],
        ..Default::default()
    });

    // Top movers and their drivers.
    sections.push(top_movers(cx, &teams).await?);

    // Pareto.
    let (pareto, carrying, count) = pareto(&teams, cur);
    kpis.push(Kpi {
        label: "Teams carrying 80%".into(),
        value: format!("{carrying} of {count}"),
        exact: carrying.to_string(),
        change: "of this week's allocated spend".into(),
    });
    sections.push(pareto);

    // Coverage.
    sections.push(coverage(cx, &rows, &total).await?);

    // Shared clusters' idle capacity, when the lake has any.
    if let Some(section) = clusters(cx).await? {
        sections.push(section);
    }

    // Budgets.
    sections.push(budgets(cx).await?);

    Ok(Document {
        kind: "weekly",
        as_of: w.as_of,
        title: format!("Weekly ops review: week ending {}", w.as_of),
        subtitle: cx.basis(),
        freshness: cx.freshness(),
        kpis,
        sections,
        notes: cx.notes(),
    })
}

/// What moved a team's spend this week: one item of a dimension (service, account, region,
/// resource) and its spend this week and the week before.
pub(super) struct Driver {
    pub dimension: String,
    pub item: String,
    pub this_week: i128,
    pub prior_week: i128,
    pub change: i128,
}

/// Per team, [`week_drivers.sql`](crate::queries::week_drivers) in the report's currency,
/// largest change first within each team and dimension.
pub(super) async fn week_drivers(cx: &Context) -> anyhow::Result<Vec<(String, Driver)>> {
    let sql = crate::queries::week_drivers(cx.windows.as_of);
    let rows = query::run(&cx.ctx, "week_drivers.sql", &sql, &[]).await?;
    Ok(rows
        .iter()
        .filter(|r| r[2].text() == cx.currency)
        .map(|r| {
            let item = r[4].text();
            (
                r[0].text(),
                Driver {
                    dimension: r[3].text(),
                    item: if item.is_empty() { "(none)".into() } else { item },
                    this_week: r[5].money(),
                    prior_week: r[6].money(),
                    change: r[5].money() - r[6].money(),
                },
            )
        })
        .collect())
}

async fn top_movers(cx: &Context, teams: &BTreeMap<String, ([i128; 4], String)>) -> anyhow::Result<Section> {
    let cur = cx.currency.as_str();
    let drivers = week_drivers(cx).await?;
    let mut movers: Vec<(&String, &[i128; 4])> =
        teams.iter().map(|(t, (s, _))| (t, s)).filter(|(_, s)| s[0] != s[1]).collect();
    movers.sort_by(|a, b| (b.1[0] - b.1[1]).abs().cmp(&(a.1[0] - a.1[1]).abs()).then_with(|| a.0.cmp(b.0)));
    movers.truncate(TOP_MOVERS);
    // `workload` is `cluster/namespace/workload`, for spend in shared Kubernetes clusters.
    let dimensions = ["service", "account", "region", "resource", "workload"];
    let mut table = Table::new(
        "weekly_top_movers",
        "Top movers, week over week",
        vec![
            col("team", "Team", Kind::Text),
            col("this_week", "This week", Kind::Money),
            col("prior_week", "Prior week", Kind::Money),
            col("change", "Change", Kind::MoneyChange),
            col("change_pct", "Change %", Kind::PercentChange),
            col("top_service", "Service", Kind::Text),
            col("top_account", "Account", Kind::Text),
            col("top_region", "Region", Kind::Text),
            col("top_resource", "Resource", Kind::Text),
            col("top_workload", "Workload", Kind::Text),
        ],
        cur,
    );
    let mut bullets = Vec::new();
    for (team, s) in movers {
        let delta = s[0] - s[1];
        let direction = delta.signum();
        let mut cells = Vec::new();
        let mut words = Vec::new();
        for dimension in dimensions {
            let best = drivers
                .iter()
                .filter(|(t, d)| t == team && d.dimension == dimension && d.change.signum() == direction)
                .max_by(|a, b| {
                    (a.1.change * direction).cmp(&(b.1.change * direction)).then_with(|| b.1.item.cmp(&a.1.item))
                });
            match best {
                Some((_, d)) => {
                    let text = format!("{} ({})", d.item, format::money_change(d.change, cur));
                    words.push(format!("{dimension} {text}"));
                    cells.push(Cell::Text(text));
                }
                None => cells.push(Cell::Null),
            }
        }
        let how = match change_tenths(s[0], s[1]) {
            Some(p) => format!(
                "{} {} ({}) on the week before",
                if delta > 0 { "up" } else { "down" },
                format::money(delta.abs(), cur),
                format::percent_change(p)
            ),
            None => format!("new spend this week ({} the week before)", format::money(s[1], cur)),
        };
        let why = if words.is_empty() { String::new() } else { format!(" Most of the change: {}.", words.join(", ")) };
        bullets.push(format!("{team} spent {} this week, {how}.{why}", format::money(s[0], cur)));
        let mut row: Vec<Cell> =
            vec![team.as_str().into(), s[0].into(), s[1].into(), delta.into(), change_tenths(s[0], s[1]).into()];
        row.extend(cells);
        table.push(row);
    }
    let paragraphs = if bullets.is_empty() {
        vec!["No team's spend changed from the week before.".to_string()]
    } else {
        vec![format!(
            "The {} teams whose spend changed most from the week before ({} to {}), with the service, account, region and resource that moved most in the same direction.",
            bullets.len(),
            cx.windows.prior_week_start,
            cx.windows.prior_week_end
        )]
    };
    Ok(Section {
        id: "movers",
        title: "Top movers".into(),
        paragraphs,
        bullets,
        tables: vec![table],
        ..Default::default()
    })
}

/// The teams that together carry 80% of this week's allocated spend; also how many there are.
fn pareto(teams: &BTreeMap<String, ([i128; 4], String)>, cur: &str) -> (Section, usize, usize) {
    let allocated: BTreeMap<String, i128> =
        teams.iter().filter(|(t, _)| *t != UNALLOCATED).map(|(t, (s, _))| (t.clone(), s[0])).collect();
    let total: i128 = allocated.values().sum();
    let mut table = Table::new(
        "weekly_pareto",
        "Teams carrying 80% of this week's allocated spend",
        vec![
            col("rank", "#", Kind::Count),
            col("team", "Team", Kind::Text),
            col("this_week", "This week", Kind::Money),
            col("share_pct", "Share", Kind::Percent),
            col("cumulative_pct", "Cumulative", Kind::Percent),
        ],
        cur,
    );
    let ranked = ranked(&allocated, |v| *v);
    let mut cumulative = 0i128;
    for (i, (team, spend)) in ranked.iter().enumerate() {
        if total <= 0 {
            break;
        }
        cumulative += spend;
        table.push(vec![
            (i as i128 + 1).into(),
            team.as_str().into(),
            (*spend).into(),
            share_tenths(*spend, total).into(),
            share_tenths(cumulative, total).into(),
        ]);
        // Stop at the team that takes the sum to 80% (exactly: cumulative / total >= 0.8).
        if cumulative * 1000 >= total * PARETO_TENTHS {
            break;
        }
    }
    let carrying = table.rows.len();
    let shown: Vec<&(String, i128)> = ranked.iter().take(10).collect();
    let chart = chart::bars(
        &format!("Top {} teams this week ({cur})", shown.len()),
        &shown.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>(),
        &shown.iter().map(|(_, v)| chart::coordinate(*v)).collect::<Vec<_>>(),
        &shown.iter().map(|(_, v)| format::money(*v, cur)).collect::<Vec<_>>(),
    );
    let paragraph = if total > 0 {
        format!(
            "{carrying} of {} teams carry 80% of this week's allocated spend ({}, {} of {}). Unallocated spend is not a team and is left out here; see Coverage.",
            ranked.len(),
            format::money(cumulative, cur),
            format::percent(share_tenths(cumulative, total).unwrap_or(0)),
            format::money(total, cur),
        )
    } else {
        "No allocated spend this week.".to_string()
    };
    let section = Section {
        id: "pareto",
        title: "Pareto: where 80% of spend goes".into(),
        paragraphs: vec![paragraph],
        charts: vec![chart],
        tables: vec![table],
        ..Default::default()
    };
    (section, carrying, ranked.len())
}

async fn coverage(cx: &Context, rows: &[TeamSpend], total: &[i128; 4]) -> anyhow::Result<Section> {
    let cur = cx.currency.as_str();
    let mut methods: BTreeMap<&str, [i128; 4]> = BTreeMap::new();
    for r in rows {
        add(methods.entry(r.method.as_str()).or_default(), &r.spend);
    }
    let mut table = Table::new(
        "weekly_coverage",
        "Coverage: how spend is owned",
        vec![
            col("method", "Owned", Kind::Text),
            col("this_week", "This week", Kind::Money),
            col("this_week_pct", "Share", Kind::Percent),
            col("prior_week", "Prior week", Kind::Money),
            col("prior_week_pct", "Share", Kind::Percent),
        ],
        cur,
    );
    let words = |m: &str| match m {
        "direct" => "directly, by a rule".to_string(),
        "shared" => "split from a shared pool".to_string(),
        "unallocated" => "unallocated".to_string(),
        other => other.to_string(),
    };
    for method in ["direct", "shared", "unallocated"] {
        let s = methods.get(method).copied().unwrap_or_default();
        table.push(vec![
            words(method).into(),
            s[0].into(),
            share_tenths(s[0], total[0]).into(),
            s[1].into(),
            share_tenths(s[1], total[1]).into(),
        ]);
    }
    let unallocated = methods.get("unallocated").copied().unwrap_or_default();
    let reasons = cx.query("weekly_unallocated_reasons.sql", REASONS_SQL).await?;
    let mut reasons_table = Table::new(
        "weekly_unallocated_reasons",
        "Why spend is unallocated (top 10)",
        vec![
            col("reason", "Reason", Kind::Text),
            col("this_week", "This week", Kind::Money),
            col("prior_week", "Prior week", Kind::Money),
            col("line_items", "Line items (2 weeks)", Kind::Count),
        ],
        cur,
    );
    for r in reasons.iter().take(10) {
        reasons_table.push(vec![r[0].text().into(), r[2].money().into(), r[3].money().into(), r[1].at_scale(0).into()]);
    }
    let paragraph = format!(
        "{} of this week's spend is owned by a team ({} directly, {} from shared pools); {} ({}) is unallocated{}.",
        format::percent(share_tenths(total[0] - unallocated[0], total[0]).unwrap_or(0)),
        format::money(methods.get("direct").map_or(0, |s| s[0]), cur),
        format::money(methods.get("shared").map_or(0, |s| s[0]), cur),
        format::money(unallocated[0], cur),
        format::percent(share_tenths(unallocated[0], total[0]).unwrap_or(0)),
        match reasons.first() {
            Some(r) if unallocated[0] != 0 => format!("; the top reason: {}", r[0].text()),
            _ => String::new(),
        }
    );
    Ok(Section {
        id: "coverage",
        title: "Coverage and unallocated spend".into(),
        paragraphs: vec![paragraph],
        tables: vec![table, reasons_table],
        ..Default::default()
    })
}

/// Each shared container cluster's node cost this week, what of it no pod used (idle), and its
/// idle share this week and the week before, with who owns idle (clusters.toml); `None` when the
/// lake has no cluster split (no AWS split cost allocation data).
async fn clusters(cx: &Context) -> anyhow::Result<Option<Section>> {
    let cur = cx.currency.as_str();
    let rows = query::run(&cx.ctx, "cluster_idle.sql", &crate::queries::cluster_idle(cx.windows.as_of), &[]).await?;
    let rows: Vec<_> = rows.iter().filter(|r| r[1].text() == cur).collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let mut table = Table::new(
        "weekly_cluster_idle",
        "Shared clusters: idle capacity",
        vec![
            col("cluster", "Cluster", Kind::Text),
            col("week_cost", "Nodes this week", Kind::Money),
            col("week_idle", "Idle this week", Kind::Money),
            col("week_idle_pct", "Idle %", Kind::Percent),
            col("prior_idle_pct", "Idle % week before", Kind::Percent),
            col("idle_owner", "Idle goes to", Kind::Text),
        ],
        cur,
    );
    let share =
        |idle: i128, cost: i128| if cost == 0 { Cell::Null } else { crate::money::div_round(idle * 1000, cost).into() };
    for r in rows {
        let cluster = r[0].text();
        let policy = cx.options.mappings.clusters.get(&cluster);
        let owner = match (policy.idle, &policy.owner) {
            (crate::attribute::clusters::IdlePolicy::Owner, Some(owner)) => owner.clone(),
            (idle, _) => idle.name().to_string(),
        };
        let (week_cost, week_idle, prior_cost, prior_idle) = (r[2].money(), r[3].money(), r[4].money(), r[5].money());
        table.push(vec![
            cluster.into(),
            week_cost.into(),
            week_idle.into(),
            share(week_idle, week_cost),
            share(prior_idle, prior_cost),
            owner.into(),
        ]);
    }
    Ok(Some(Section {
        id: "clusters",
        title: "Shared clusters".into(),
        paragraphs: vec![
            "Nodes split by the pods that ran on them (AWS split cost allocation data): what no pod used is idle, owned by the \
             cluster's policy in clusters.toml (proportional to the pods, the cluster's owner, or unallocated). \
             tally findings flags a cluster idling above its idle_alert two weeks running."
                .into(),
        ],
        tables: vec![table],
        ..Default::default()
    }))
}

async fn budgets(cx: &Context) -> anyhow::Result<Section> {
    let cur = cx.currency.as_str();
    let mut section = Section { id: "budgets", title: "Budgets".into(), ..Default::default() };
    if !cx.mappings().dir.join(budget::file::BUDGETS_FILE).exists() {
        section.paragraphs.push("The mappings folder has no budgets.toml: no budgets to show.".into());
        return Ok(section);
    }
    let loaded = budget::load(&cx.lake, &cx.options.mappings).await?;
    let month = Month::parse(&cx.as_of.format("%Y-%m").to_string()).expect("a month");
    let statuses = budget::status(&loaded, Some(month), cx.as_of).await?;
    let mut table = Table::new(
        "weekly_budget_status",
        format!("Budget status, {month} as of {}", cx.as_of),
        vec![
            col("owner", "Owner", Kind::Text),
            col("kind", "Kind", Kind::Text),
            col("budget", "Budget", Kind::Money),
            col("actual", "Actual to date", Kind::Money),
            col("forecast", "Forecast", Kind::Money),
            col("variance_pct", "Variance", Kind::PercentChange),
            col("status", "Status", Kind::Text),
            col("note", "Note", Kind::Text),
        ],
        cur,
    );
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in statuses.iter().filter(|s| s.currency == cx.currency) {
        *counts.entry(s.status.name()).or_default() += 1;
        table.push(vec![
            s.owner.as_str().into(),
            s.kind.into(),
            s.budget.into(),
            s.actual.into(),
            s.forecast.into(),
            s.variance_pct.map(|v| crate::money::div_round(v, 10)).into(),
            s.status.name().into(),
            s.note.as_str().into(),
        ]);
    }
    section.paragraphs.push(if table.rows.is_empty() {
        format!("No budgets in {cur} for {month}.")
    } else {
        let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        format!(
            "{} budget(s) in {month}: {}. Forecast: actual to date plus each remaining day projected from recurring spend (see README, Budgets).",
            table.rows.len(),
            parts.join(", ")
        )
    });
    section.tables.push(table);
    Ok(section)
}
