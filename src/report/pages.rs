//! A page per team and per org node beside the weekly report, and their index: where a
//! nudge's "Full report" lands (`teams/<team>.html`).
//!
//! A team's page: its spend over the last 13 weeks, its budget burn-down for the month
//! (spend so far, the forecast, the tolerance band), this week's drivers (service, account,
//! resource), unallocated spend in accounts it mostly owns, its open findings with monthly
//! savings and effort, its verified wins, and its largest resources with the rule that made
//! each its own (the rule `tally explain` names). An org node's page adds up the teams
//! beneath it and links to them; `teams/index.html` lists every team and node with its
//! budget status.
//!
//! Each question is asked once for all teams; the pages are self-contained HTML from the
//! report's one template, linked to each other by relative paths. Same lake, mappings and
//! as-of date, same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{Duration, NaiveDate};

use super::billed_in::{self, BilledIn};
use super::chart::{self, Burn, Series};
use super::context::{Context, Rollup, change};
use super::document::{Document, Kpi, Link, Section};
use super::query;
use super::table::{Cell, Kind, Table, col};
use super::weekly::{self, Driver, TeamSpend};
use crate::attribute::org::UNALLOCATED;
use crate::budget::{self, BudgetStatus, MonthView};
use crate::calendar::Month;
use crate::findings::read::{self as findings, Finding, Unallocated};
use crate::money::text::{self as format, RATIO_SCALE, change_tenths};
use crate::money::{PERCENT_WHOLE, div_round, rescale};

const TOP_RESOURCES_SQL: &str = include_str!("../../queries/team_top_resources.sql");

/// The folder of team pages (and their index) beside the weekly report.
pub const TEAMS_DIR: &str = "teams";
/// The folder of org node pages beside the weekly report.
pub const ORGS_DIR: &str = "orgs";
/// Weeks of spend a page's trend shows, the last ending on the as-of date.
const TREND_WEEKS: i64 = 13;
/// Items per dimension in a page's drivers table.
const DRIVERS_PER_DIMENSION: usize = 3;
const DRIVER_DIMENSIONS: [&str; 4] = ["service", "account", "resource", "workload"];

/// A team's page, relative to the report's folder: what a nudge links to. Ids hold no `/`
/// ([`crate::attribute::org::valid_id`]), so the page is always directly in `teams/`.
pub fn team_page(team: &str) -> String {
    format!("{TEAMS_DIR}/{team}.html")
}

/// An org node's page, relative to the report's folder.
pub fn org_page(node: &str) -> String {
    format!("{ORGS_DIR}/{node}.html")
}

/// One of a team's largest resources this month, and how it became the team's.
struct Resource {
    team: String,
    resource: String,
    rule_id: String,
    method: String,
    pool: String,
    cost: i128,
    line_items: i128,
}

/// The month's budgets: statuses, and the day-by-day view their burn-down charts draw.
struct MonthBudgets<'m> {
    loaded: budget::Loaded<'m>,
    view: MonthView,
    statuses: Vec<BudgetStatus>,
}

/// Everything the pages are made of, each asked once for every team.
struct Inputs<'c> {
    /// This week, the week before, month to date, the same days before: per team and org path.
    spend: Vec<TeamSpend>,
    /// Spend per day, team and org path (as-was, as-is) over the trend's weeks.
    daily: Vec<(NaiveDate, String, String, String, i128)>,
    drivers: Vec<(String, Driver)>,
    budgets: Option<MonthBudgets<'c>>,
    unallocated: Vec<Unallocated>,
    findings: Vec<Finding>,
    resources: Vec<Resource>,
    /// With a reporting currency: per team and billing currency, the month billed, the lowest
    /// and highest rate, and the month converted.
    billed_in: Option<Vec<BilledIn>>,
}

impl Inputs<'_> {
    fn budgets_of(&self, owner: &str) -> Vec<&BudgetStatus> {
        self.budgets.iter().flat_map(|b| &b.statuses).filter(|s| s.owner == owner).collect()
    }

    fn open_findings(&self, team: &str) -> Vec<&Finding> {
        let mut open: Vec<&Finding> = self
            .findings
            .iter()
            .filter(|f| f.team == team && f.kind != "realized_savings" && (f.status.is_empty() || f.status == "open"))
            .collect();
        open.sort_by(|a, b| b.monthly_savings.cmp(&a.monthly_savings).then_with(|| a.finding_id.cmp(&b.finding_id)));
        open
    }

    /// Monthly savings of a team's open recommendations (anomalies are not recommendations).
    fn recommended(&self, team: &str) -> (usize, i128) {
        let recommendations: Vec<&Finding> =
            self.open_findings(team).into_iter().filter(|f| f.kind != "anomaly").collect();
        (recommendations.len(), recommendations.iter().filter_map(|f| f.monthly_savings).sum())
    }
}

async fn inputs<'c>(cx: &'c Context) -> anyhow::Result<Inputs<'c>> {
    let w = cx.windows;
    let from = trend_start(cx);
    let daily = query::run(&cx.ctx, "report_daily_spend.sql", weekly::DAILY_SQL, &cx.params_for(&w, from)).await?;
    let daily = daily
        .iter()
        .filter_map(|r| Some((r[0].date()?, r[1].text(), r[2].text(), r[3].text(), r[4].money())))
        .collect();
    let budgets = if cx.mappings().dir.join(budget::file::BUDGETS_FILE).exists() {
        let loaded = budget::load(&cx.lake, &cx.options.mappings).await?;
        let view = budget::month_view(&loaded, Month::of(cx.as_of), cx.as_of).await?;
        let statuses = budget::status::statuses(&view, loaded.org, &loaded.budgets, loaded.currency, cx.as_of)
            .into_iter()
            .filter(|s| s.currency == cx.currency)
            .collect();
        Some(MonthBudgets { loaded, view, statuses })
    } else {
        None
    };
    let resources =
        query::run(&cx.ctx, "team_top_resources.sql", TOP_RESOURCES_SQL, &cx.params_for(&w, w.month_start)).await?;
    let resources = resources
        .iter()
        .map(|r| Resource {
            team: r[0].text(),
            resource: r[1].text(),
            rule_id: r[2].text(),
            method: r[3].text(),
            pool: r[4].text(),
            cost: r[5].money(),
            line_items: r[6].at_scale(0),
        })
        .collect();
    let billed_in = billed_in::load(cx).await?;
    let mut unallocated = findings::unallocated(&cx.ctx, cx.as_of).await?;
    unallocated.retain(|u| u.currency == cx.currency);
    let mut found = findings::findings(&cx.ctx, cx.as_of).await?;
    found.retain(|f| f.currency == cx.currency);
    Ok(Inputs {
        spend: weekly::spend_by_team(cx).await?,
        daily,
        drivers: weekly::week_drivers(cx).await?,
        budgets,
        unallocated,
        findings: found,
        resources,
        billed_in,
    })
}

/// With a reporting currency: the team's week and month in each currency it was billed in,
/// and the rates that converted it (each month's, locked with it).
fn billed_in_section(cx: &Context, inputs: &Inputs, team: &str) -> Option<Section> {
    let rows: Vec<&BilledIn> = inputs.billed_in.as_ref()?.iter().filter(|b| b.team == team).collect();
    let lead = format!(
        "{team}'s spend in each currency it was billed in, converted into {} at each month's rate (currency.toml; the rate is {} per unit).",
        cx.currency, cx.currency
    );
    Some(billed_in::section(cx, "team_billing_currencies", &rows, lead))
}

/// The first day of the trend's first week.
fn trend_start(cx: &Context) -> NaiveDate {
    cx.as_of - Duration::days(7 * TREND_WEEKS - 1)
}

/// Whether spend on a team with these org paths (as-was, as-is) rolls up to `node`.
fn rolls_up(cx: &Context, node: &str, org_path: &str, org_path_current: &str) -> bool {
    let path = match cx.options.rollup {
        Rollup::AsWas => org_path,
        Rollup::AsIs => org_path_current,
    };
    path.split('/').any(|n| n == node)
}

/// Spend of an owner (a team, or a node) in the four windows of [`TeamSpend`].
fn windows_of(cx: &Context, inputs: &Inputs, owner: &str) -> [i128; 4] {
    let mut total = [0i128; 4];
    for r in inputs.spend.iter().filter(|r| r.team == owner || rolls_up(cx, owner, &r.org_path, &r.org_path_current)) {
        for (a, b) in total.iter_mut().zip(&r.spend) {
            *a += b;
        }
    }
    total
}

/// The trend section: weekly spend of an owner over the last 13 weeks, oldest first.
fn trend(cx: &Context, inputs: &Inputs, owner: &str) -> Section {
    let cur = cx.currency.as_str();
    let start = trend_start(cx);
    let mut weeks = [0i128; TREND_WEEKS as usize];
    for (day, team, org_path, org_path_current, cost) in &inputs.daily {
        if *day < start || *day > cx.as_of {
            continue;
        }
        if team == owner || rolls_up(cx, owner, org_path, org_path_current) {
            let back = (cx.as_of - *day).num_days() / 7;
            weeks[(TREND_WEEKS - 1 - back) as usize] += cost;
        }
    }
    let ends: Vec<NaiveDate> = (0..TREND_WEEKS).map(|i| cx.as_of - Duration::days(7 * (TREND_WEEKS - 1 - i))).collect();
    // A week that ended before the data begins has no figure, not a zero.
    let known: Vec<bool> = ends.iter().map(|end| *end >= cx.data_from).collect();
    let mut table = Table::new(
        "team_weekly_spend",
        format!("Spend per week, {TREND_WEEKS} weeks to {}", cx.as_of),
        vec![col("week_ending", "Week ending", Kind::Text), col("spend", "Spend", Kind::Money)],
        cur,
    );
    table.detail = true;
    for (i, end) in ends.iter().enumerate().filter(|(i, _)| known[*i]) {
        table.push(vec![end.to_string().into(), weeks[i].into()]);
    }
    let chart = chart::lines(
        &format!("{owner}: spend per week ({cur}), {TREND_WEEKS} weeks to {}", cx.as_of),
        &ends.iter().map(|d| d.format("%b %d").to_string()).collect::<Vec<_>>(),
        &[Series {
            name: "spend".into(),
            values: weeks.iter().zip(&known).map(|(v, k)| k.then(|| chart::coordinate(*v))).collect(),
        }],
        cur,
    );
    let shown = known.iter().filter(|k| **k).count();
    let total: i128 = weeks.iter().sum();
    Section {
        id: "trend",
        title: format!("Spend, last {TREND_WEEKS} weeks"),
        paragraphs: vec![format!(
            "{} over the {shown} week(s) with data, each week the 7 days ending on the date shown.",
            format::money(total, cur)
        )],
        charts: vec![chart],
        tables: vec![table],
        ..Default::default()
    }
}

/// The budget section: each budget of the owner this month, the first drawn as a burn-down.
fn budget_section(cx: &Context, inputs: &Inputs, owner: &str) -> Section {
    let cur = cx.currency.as_str();
    let month = Month::of(cx.as_of);
    let mut section = Section { id: "budget", title: format!("Budget, {month}"), ..Default::default() };
    let Some(budgets) = &inputs.budgets else {
        section.paragraphs.push("The mappings folder has no budgets.toml: no budgets to show.".into());
        return section;
    };
    let mine = inputs.budgets_of(owner);
    let Some(first) = mine.first() else {
        section.paragraphs.push(format!("{owner} has no budget in {cur} for {month}."));
        return section;
    };
    let mut table = Table::new(
        "team_budget",
        format!("Budget status, {month} as of {}", cx.as_of),
        vec![
            col("cost", "Cost", Kind::Text),
            col("budget", "Budget", Kind::Money),
            col("over_at", "Over at", Kind::Money),
            col("actual", "Actual to date", Kind::Money),
            col("forecast", "Forecast", Kind::Money),
            col("variance_pct", "Variance", Kind::PercentChange),
            col("status", "Status", Kind::Text),
            col("note", "Note", Kind::Text),
        ],
        cur,
    );
    for s in &mine {
        table.push(vec![
            s.cost.name().into(),
            s.budget.into(),
            ceiling(s).into(),
            s.actual.into(),
            s.forecast.into(),
            s.variance_pct.map(|v| div_round(v, 10)).into(),
            s.status.name().into(),
            s.note.as_str().into(),
        ]);
    }
    section.paragraphs.push(format!(
        "{}: {} spent to {}, {} forecast for the month against a budget of {} (over at {}, with tolerance and approvals). The forecast adds each remaining day projected from recurring spend (see README, Budgets).",
        first.status.name(),
        format::money(first.actual, cur),
        first.data_end.map_or_else(|| "date".to_string(), |d| d.to_string()),
        format::money(first.forecast, cur),
        format::money(first.budget, cur),
        format::money(ceiling(first), cur),
    ));
    section.charts.push(burn_chart(budgets, first));
    section.tables.push(table);
    section
}

/// Spend above which a budget is over: the budget, its tolerance, and approvals holding.
fn ceiling(s: &BudgetStatus) -> i128 {
    div_round(s.budget * (PERCENT_WHOLE + s.tolerance), PERCENT_WHOLE) + s.approved
}

fn burn_chart(budgets: &MonthBudgets, s: &BudgetStatus) -> String {
    let days = budgets.view.owner_days(budgets.loaded.org, &s.owner, &s.currency, s.cost);
    let month = s.month;
    let dates = budget::forecast::days_between(month.first(), month.last());
    let data_end = budgets.view.data_end;
    let (mut actual, mut forecast) = (Vec::new(), Vec::new());
    let mut spent = 0i128;
    for day in &dates {
        if data_end.is_some_and(|end| *day <= end) {
            spent += days.actual.get(day).copied().unwrap_or(0);
            actual.push(Some(chart::coordinate(spent)));
            // The forecast starts where the spend so far ends.
            forecast.push((Some(*day) == data_end).then(|| chart::coordinate(spent)));
        } else {
            spent += days.projected.get(day).copied().unwrap_or(0);
            actual.push(None);
            forecast.push(Some(chart::coordinate(spent)));
        }
    }
    let burn = Burn {
        days: dates.iter().map(|d| d.format("%-d").to_string()).collect(),
        actual,
        forecast,
        budget: chart::coordinate(s.budget),
        ceiling: chart::coordinate(ceiling(s)),
    };
    chart::burn(&format!("{}: {month} spend against budget ({})", s.owner, s.currency), &burn, &s.currency)
}

fn drivers_section(cx: &Context, inputs: &Inputs, team: &str) -> Section {
    let cur = cx.currency.as_str();
    let mut table = Table::new(
        "team_drivers",
        format!("What moved, {} to {} against the week before", cx.windows.week_start, cx.as_of),
        vec![
            col("dimension", "By", Kind::Text),
            col("item", "Item", Kind::Text),
            col("this_week", "This week", Kind::Money),
            col("prior_week", "Prior week", Kind::Money),
            col("change", "Change", Kind::MoneyChange),
        ],
        cur,
    );
    for dimension in DRIVER_DIMENSIONS {
        // week_drivers.sql orders each team's dimension by the size of its change.
        let moved = inputs.drivers.iter().filter(|(t, d)| t == team && d.dimension == dimension && d.change != 0);
        for (_, d) in moved.take(DRIVERS_PER_DIMENSION) {
            table.push(vec![
                dimension.into(),
                d.item.as_str().into(),
                d.this_week.into(),
                d.prior_week.into(),
                d.change.into(),
            ]);
        }
    }
    let paragraph = if table.rows.is_empty() {
        format!("{team}'s spend did not change from the week before.")
    } else {
        format!(
            "The {} services, accounts, resources and cluster workloads (cluster/namespace/workload) whose spend changed most for {team} this week.",
            DRIVERS_PER_DIMENSION
        )
    };
    Section {
        id: "drivers",
        title: "This week's drivers".into(),
        paragraphs: vec![paragraph],
        tables: non_empty(table),
        ..Default::default()
    }
}

fn unallocated_section(cx: &Context, inputs: &Inputs, team: &str) -> Section {
    let cur = cx.currency.as_str();
    let mut table = Table::new(
        "team_unallocated",
        format!("Unallocated spend this month in accounts {team} mostly owns"),
        vec![
            col("account", "Account", Kind::Text),
            col("unallocated", "Unallocated", Kind::Money),
            col("resources", "Resources", Kind::Count),
            col("line_items", "Line items", Kind::Count),
        ],
        cur,
    );
    let mine: Vec<&Unallocated> = inputs.unallocated.iter().filter(|u| u.team == team).collect();
    for u in &mine {
        table.push(vec![
            u.account.as_str().into(),
            u.amount.into(),
            i128::from(u.resources).into(),
            i128::from(u.line_items).into(),
        ]);
    }
    let total: i128 = mine.iter().map(|u| u.amount).sum();
    let paragraph = if mine.is_empty() {
        format!("No unallocated spend this month in accounts whose allocated spend is mostly {team}'s.")
    } else {
        format!(
            "{} this month in {} account(s) where {team} owns most of the allocated spend has no owner: a tag or a rule in the mappings would give it one (`tally explain <resource>` says why a line is unallocated).",
            format::money(total, cur),
            mine.len()
        )
    };
    Section {
        id: "unallocated",
        title: "Unallocated spend in your accounts".into(),
        paragraphs: vec![paragraph],
        tables: non_empty(table),
        ..Default::default()
    }
}

fn findings_section(cx: &Context, inputs: &Inputs, team: &str) -> Section {
    let cur = cx.currency.as_str();
    let mut section = Section { id: "findings", title: "Open findings".into(), ..Default::default() };
    if !cx.has_findings {
        section.paragraphs.push("The lake has no findings yet: `tally findings` (or `tally run`) makes them.".into());
        return section;
    }
    let mut table = Table::new(
        "team_findings",
        "Open findings, largest monthly savings first",
        vec![
            col("finding", "Finding", Kind::Text),
            col("kind", "Kind", Kind::Text),
            col("monthly_savings", "Savings / month", Kind::Money),
            col("effort_dev_days", "Effort (dev-days)", Kind::Volume),
        ],
        cur,
    );
    for f in inputs.open_findings(team) {
        table.push(vec![
            f.title.as_str().into(),
            f.kind.as_str().into(),
            f.monthly_savings.into(),
            f.effort_centidays.map(|d| rescale(d, 2, RATIO_SCALE)).into(),
        ]);
    }
    let (count, savings) = inputs.recommended(team);
    section.paragraphs.push(if table.rows.is_empty() {
        format!("No open findings for {team}.")
    } else {
        format!(
            "{count} open recommendation(s) worth {} a month, and {} other finding(s) (anomalies: their savings are the excess over what was expected).",
            format::money(savings, cur),
            table.rows.len() - count
        )
    });
    section.tables = non_empty(table);
    section
}

fn wins_section(cx: &Context, inputs: &Inputs, team: &str) -> Section {
    let cur = cx.currency.as_str();
    let mut table = Table::new(
        "team_wins",
        "Verified savings",
        vec![col("initiative", "Initiative", Kind::Text), col("monthly_savings", "Saved / month", Kind::Money)],
        cur,
    );
    let wins =
        inputs.findings.iter().filter(|f| f.team == team && f.kind == "realized_savings" && f.status == "verified");
    for f in wins {
        table.push(vec![f.title.as_str().into(), f.monthly_savings.into()]);
    }
    let paragraph = if table.rows.is_empty() {
        format!(
            "No verified savings for {team} yet: initiatives.toml names what a team shipped, and findings measure it."
        )
    } else {
        format!("{} initiative(s) whose savings the data confirms.", table.rows.len())
    };
    Section {
        id: "wins",
        title: "Verified wins".into(),
        paragraphs: vec![paragraph],
        tables: vec![table],
        ..Default::default()
    }
}

/// Why a resource's spend is the team's, as `tally explain` says it: the deciding rule, its
/// precedence and conditions, and the pool when the spend is a share of one.
fn why(cx: &Context, r: &Resource) -> String {
    let rule = cx.options.mappings.rules.rules.iter().find(|rule| rule.id == r.rule_id);
    let decided = match rule {
        Some(rule) => format!("rule {} (precedence {}) when {}", rule.id, rule.precedence, rule.describe()),
        None if r.rule_id.is_empty() => "no rule".to_string(),
        None => format!("rule {} (no longer in the mappings)", r.rule_id),
    };
    match (r.method.as_str(), r.pool.strip_prefix("cluster:")) {
        // A node split by its pods (or a GKE cluster's idle capacity): `cluster:<name>`, then
        // ` > idle` for the idle part, then any pool the pods' rule sent them to.
        ("shared", Some(rest)) => {
            let (cluster, idle) = match rest.split_once(" > ") {
                Some((cluster, after)) => (cluster, after == "idle" || after.starts_with("idle >")),
                None => (rest, false),
            };
            match (idle, r.rule_id.is_empty()) {
                (false, _) => format!("its pods' part of a node in cluster {cluster}; the pods are its by {decided}"),
                (true, true) => {
                    format!("idle capacity of cluster {cluster}, its by the cluster's policy (clusters.toml)")
                }
                (true, false) => format!(
                    "its pods' part of cluster {cluster}'s idle capacity (clusters.toml); the pods are its by {decided}"
                ),
            }
        }
        ("shared", None) => format!("a share of pool {}, which {decided} sends there", r.pool),
        _ => decided,
    }
}

fn resources_section(cx: &Context, inputs: &Inputs, team: &str) -> Section {
    let cur = cx.currency.as_str();
    let mut table = Table::new(
        "team_top_resources",
        format!("Largest resources, {} to {}", cx.windows.month_start, cx.as_of),
        vec![
            col("resource", "Resource", Kind::Text),
            col("month_to_date", "Month to date", Kind::Money),
            col("line_items", "Line items", Kind::Count),
            col("why", "Why it is yours", Kind::Text),
        ],
        cur,
    );
    for r in inputs.resources.iter().filter(|r| r.team == team) {
        table.push(vec![r.resource.as_str().into(), r.cost.into(), r.line_items.into(), why(cx, r).into()]);
    }
    let paragraph = if table.rows.is_empty() {
        format!("No spend on named resources for {team} this month.")
    } else {
        format!(
            "{team}'s largest resources this month and the rule that made each one {team}'s; `tally explain <resource>` shows every rule that matched and why the others lost."
        )
    };
    Section {
        id: "resources",
        title: "Top resources and why they are yours".into(),
        paragraphs: vec![paragraph],
        tables: non_empty(table),
        ..Default::default()
    }
}

/// A list with nothing in it is said in words (each section's paragraph), not shown empty.
fn non_empty(table: Table) -> Vec<Table> {
    if table.rows.is_empty() { Vec::new() } else { vec![table] }
}

/// Headline figures of an owner: spend this week and month to date, its budget.
fn kpis(cx: &Context, inputs: &Inputs, owner: &str) -> Vec<Kpi> {
    let cur = cx.currency.as_str();
    let s = windows_of(cx, inputs, owner);
    let (delta, pct) = change(s[0], s[1]);
    let pct_text = |p: Option<i128>| p.map_or("no spend before".to_string(), format::percent_change);
    let mut kpis = vec![
        Kpi {
            label: "Spend this week".into(),
            value: format::money(s[0], cur),
            exact: super::table::exact(s[0], crate::money::SCALE as u32),
            change: format!("{} ({}) vs prior week", pct_text(pct), format::money_change(delta, cur)),
        },
        Kpi {
            label: "Month to date".into(),
            value: format::money(s[2], cur),
            exact: super::table::exact(s[2], crate::money::SCALE as u32),
            change: format!("{} vs {}", pct_text(change_tenths(s[2], s[3])), cx.windows.month_comparison()),
        },
    ];
    if let Some(b) = inputs.budgets_of(owner).first() {
        kpis.push(Kpi {
            label: "Budget".into(),
            value: b.status.name().into(),
            exact: b.status.name().into(),
            change: format!("forecast {} of {}", format::money(b.forecast, cur), format::money(b.budget, cur)),
        });
    }
    kpis
}

fn team_document(cx: &Context, inputs: &Inputs, team: &str) -> Document {
    let cur = cx.currency.as_str();
    let mut kpis = kpis(cx, inputs, team);
    if cx.has_findings {
        let (count, savings) = inputs.recommended(team);
        kpis.push(Kpi {
            label: "Open recommendations".into(),
            value: format::money(savings, cur),
            exact: super::table::exact(savings, crate::money::SCALE as u32),
            change: format!("a month, from {count} recommendation(s)"),
        });
    }
    Document {
        kind: "team",
        as_of: cx.as_of,
        title: format!("{team}: cloud spend, week ending {}", cx.as_of),
        subtitle: format!("Team {}. {}", cx.org().path(team, cx.as_of), cx.basis()),
        freshness: cx.freshness(),
        kpis,
        sections: [
            Some(trend(cx, inputs, team)),
            Some(budget_section(cx, inputs, team)),
            billed_in_section(cx, inputs, team),
            Some(drivers_section(cx, inputs, team)),
            Some(unallocated_section(cx, inputs, team)),
            Some(findings_section(cx, inputs, team)),
            Some(wins_section(cx, inputs, team)),
            Some(resources_section(cx, inputs, team)),
        ]
        .into_iter()
        .flatten()
        .collect(),
        notes: cx.notes(),
    }
}

/// A row per owner: spend this week and its change, month to date, budget and status.
fn owners_table(cx: &Context, inputs: &Inputs, file: &str, title: String, owners: &[(String, String)]) -> Table {
    let cur = cx.currency.as_str();
    let mut table = Table::new(
        file,
        title,
        vec![
            col("owner", "Owner", Kind::Text),
            col("org_path", "Org (today)", Kind::Text),
            col("this_week", "This week", Kind::Money),
            col("week_change_pct", "Change %", Kind::PercentChange),
            col("month_to_date", "Month to date", Kind::Money),
            col("budget", "Budget", Kind::Money),
            col("forecast", "Forecast", Kind::Money),
            col("status", "Status", Kind::Text),
            col("open_savings", "Open savings / month", Kind::Money),
        ],
        cur,
    );
    table.link_column = Some(0);
    for (owner, href) in owners {
        let s = windows_of(cx, inputs, owner);
        let budget = inputs.budgets_of(owner).first().copied();
        let savings = cx.has_findings.then(|| inputs.recommended(owner).1).filter(|_| cx.org().is_team(owner));
        table.push_linked(
            vec![
                owner.as_str().into(),
                cx.org().path(owner, cx.as_of).into(),
                s[0].into(),
                change_tenths(s[0], s[1]).into(),
                s[2].into(),
                budget.map(|b| b.budget).into(),
                budget.map(|b| b.forecast).into(),
                budget.map_or(Cell::Null, |b| b.status.name().into()),
                savings.into(),
            ],
            Some(href.clone()),
        );
    }
    table
}

fn org_document(cx: &Context, inputs: &Inputs, node: &str) -> Document {
    let org = cx.org();
    // Teams whose spend rolls up here in the report's windows, and those beneath it today.
    let mut teams: BTreeSet<String> = inputs
        .spend
        .iter()
        .filter(|r| r.team != UNALLOCATED && rolls_up(cx, node, &r.org_path, &r.org_path_current))
        .map(|r| r.team.clone())
        .collect();
    teams.extend(org.teams().filter(|t| org.is_under(t, node, cx.as_of)).map(str::to_string));
    let teams: Vec<(String, String)> =
        teams.into_iter().map(|t| (t.clone(), format!("../{}", team_page(&t)))).collect();
    let beneath: Vec<(String, String)> = org
        .groups()
        .filter(|g| org.path(g, cx.as_of).rsplit('/').nth(1) == Some(node))
        .map(|g| (g.to_string(), format!("../{}", org_page(g))))
        .collect();
    let mut people = Section {
        id: "teams",
        title: format!("Teams of {node}"),
        paragraphs: vec![format!(
            "{} team(s) beneath {node} today or in the report's weeks; spend rolls up {}.",
            teams.len(),
            cx.options.rollup.words()
        )],
        ..Default::default()
    };
    people.tables.push(owners_table(cx, inputs, "org_teams", format!("Teams of {node}"), &teams));
    if !beneath.is_empty() {
        people.tables.push(owners_table(cx, inputs, "org_nodes", format!("Nodes beneath {node}"), &beneath));
    }
    Document {
        kind: "org",
        as_of: cx.as_of,
        title: format!("{node}: cloud spend, week ending {}", cx.as_of),
        subtitle: format!("Org node {}. {}", org.path(node, cx.as_of), cx.basis()),
        freshness: cx.freshness(),
        kpis: kpis(cx, inputs, node),
        sections: vec![trend(cx, inputs, node), budget_section(cx, inputs, node), people],
        notes: cx.notes(),
    }
}

fn index_document(cx: &Context, inputs: &Inputs) -> Document {
    let org = cx.org();
    let teams: Vec<(String, String)> = org.teams().map(|t| (t.to_string(), format!("{t}.html"))).collect();
    let nodes: Vec<(String, String)> = org.groups().map(|g| (g.to_string(), format!("../{}", org_page(g)))).collect();
    let team_table = owners_table(cx, inputs, "teams_index", "Teams".into(), &teams);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in inputs.budgets.iter().flat_map(|b| &b.statuses).filter(|s| org.is_team(&s.owner)) {
        *counts.entry(s.status.name()).or_default() += 1;
    }
    let statuses: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    Document {
        kind: "teams",
        as_of: cx.as_of,
        title: format!("Teams and orgs: week ending {}", cx.as_of),
        subtitle: cx.basis(),
        freshness: cx.freshness(),
        kpis: Vec::new(),
        sections: vec![
            Section {
                id: "teams",
                title: "Teams".into(),
                paragraphs: vec![format!(
                    "{} team(s); each name opens the team's page (what its nudge links to). Team budgets this month: {}.",
                    teams.len(),
                    if statuses.is_empty() { "none".to_string() } else { statuses.join(", ") }
                )],
                tables: vec![team_table],
                ..Default::default()
            },
            Section {
                id: "orgs",
                title: "Org nodes".into(),
                paragraphs: vec![format!(
                    "Spend of the teams beneath each node, rolled up {}.",
                    cx.options.rollup.words()
                )],
                tables: vec![owners_table(cx, inputs, "orgs_index", "Org nodes".into(), &nodes)],
                ..Default::default()
            },
        ],
        notes: cx.notes(),
    }
}

/// Links above a page's title: the index, the weekly report, and the nodes above `owner`.
fn nav(cx: &Context, owner: Option<&str>) -> Vec<Link> {
    let mut links = vec![
        Link { text: "All teams".into(), href: format!("../{TEAMS_DIR}/index.html") },
        Link { text: "Weekly report".into(), href: "../weekly.html".into() },
    ];
    if let Some(owner) = owner {
        let path = cx.org().path(owner, cx.as_of);
        for node in path.split('/').filter(|n| *n != owner) {
            links.push(Link { text: node.to_string(), href: format!("../{}", org_page(node)) });
        }
    }
    links
}

/// Writes every team's page, every org node's page and their index beside the weekly
/// report in `out`; pages of teams no longer in the mappings are removed. Returns the files.
pub async fn write(cx: &Context, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let inputs = inputs(cx).await?;
    let org = cx.org();
    let mut pages: Vec<(PathBuf, String)> = Vec::new();
    for team in org.teams() {
        pages.push((out.join(team_page(team)), team_document(cx, &inputs, team).page_html(&nav(cx, Some(team)))?));
    }
    for node in org.groups() {
        pages.push((out.join(org_page(node)), org_document(cx, &inputs, node).page_html(&nav(cx, Some(node)))?));
    }
    let index = index_document(cx, &inputs).page_html(&nav(cx, None)[1..])?;
    pages.push((out.join(TEAMS_DIR).join("index.html"), index));
    for dir in [TEAMS_DIR, ORGS_DIR] {
        let dir = out.join(dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        remove_stale_pages(&dir, &pages)?;
    }
    let mut written = Vec::new();
    for (path, html) in pages {
        std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Pages a previous report wrote into `dir` for a team or node that is gone.
fn remove_stale_pages(dir: &Path, pages: &[(PathBuf, String)]) -> anyhow::Result<()> {
    let keep: BTreeSet<&Path> = pages.iter().map(|(p, _)| p.as_path()).collect();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "html") && !keep.contains(path.as_path()) {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}
