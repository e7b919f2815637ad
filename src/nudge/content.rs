//! What each team is told, and whether it is told anything: the data (budget
//! status, this week's drivers, unallocated spend in its accounts, findings) read
//! from the lake, judged against chat.toml's thresholds and the outbox's memory.
//!
//! A team gets a message only when something in it is new and matters: a budget at
//! risk or over (or back on track), a week's change over both thresholds (at most
//! once a week), unallocated spend or a recommendation over its threshold and not
//! told before (or changed materially since: by 20% and the threshold), a verified win.
//! The rest of the message (e.g. an on-track budget) is context.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::config::{ChatConfig, Thresholds};
use super::drivers::Driver;
use super::message::{Item, Line, Message, Section, Span, money, percent, signed_money};
use super::outbox::{Memory, Status as Event};
use crate::attribute::org::{Org, UNALLOCATED};
use crate::budget::{BudgetStatus, Status};
use crate::calendar::Month;
pub use crate::findings::read::{Finding, Unallocated, findings, unallocated};
use crate::lake::billed_in::BilledIn;
use crate::money::{PERCENT_WHOLE, div_round};

/// Everything messages are made from.
#[derive(Debug)]
pub struct Inputs {
    pub as_of: NaiveDate,
    pub drivers: Vec<Driver>,
    pub budgets: Vec<BudgetStatus>,
    pub unallocated: Vec<Unallocated>,
    pub findings: Vec<Finding>,
    /// With a reporting currency: each team's week in each currency it was billed in.
    pub billed_in: Vec<BilledIn>,
}

/// `|new - old| >= max(20% of |old|, floor)`.
fn material(old: Option<i128>, new: Option<i128>, floor: i128) -> bool {
    match (old, new) {
        (Some(old), Some(new)) => (new - old).abs() >= (old.abs() / 5).max(floor),
        (None, None) => false,
        _ => true,
    }
}

/// Whether an item is new enough to tell: never told, or changed (state, or value
/// materially), or its snooze is over. An acknowledged item stays quiet until it changes.
fn worth_telling(memory: &Memory, id: &str, state: &str, value: Option<i128>, floor: i128, as_of: NaiveDate) -> bool {
    let Some(event) = memory.items.get(id) else { return true };
    match event.status {
        Event::Snoozed => NaiveDate::parse_from_str(&event.state, "%Y-%m-%d").is_ok_and(|until| as_of >= until),
        Event::Acked => material(event.value, value, floor),
        Event::Sent => event.state != state || material(event.value, value, floor),
        Event::Pending | Event::Failed => true,
    }
}

fn fmt_day(day: NaiveDate) -> String {
    day.format("%b %-d").to_string()
}

fn text_span(t: impl Into<String>) -> Span {
    Span::Text(t.into())
}

/// Builds each team's message, in team order; teams with nothing that matters get none.
pub fn build(inputs: &Inputs, org: &Org, config: &ChatConfig, memory: &Memory) -> Vec<Message> {
    let t = &config.thresholds;
    let as_of = inputs.as_of;
    let mut teams: BTreeSet<&str> = BTreeSet::new();
    teams.extend(inputs.drivers.iter().map(|d| d.team.as_str()));
    teams.extend(inputs.budgets.iter().filter(|b| b.kind == "team").map(|b| b.owner.as_str()));
    teams.extend(inputs.unallocated.iter().map(|u| u.team.as_str()));
    teams.extend(inputs.findings.iter().map(|f| f.team.as_str()));
    let mut out = Vec::new();
    for team in teams {
        if team == UNALLOCATED || !org.is_team(team) {
            continue;
        }
        if let Some(message) = team_message(inputs, org, config, t, memory, team, as_of) {
            out.push(message);
        }
    }
    out
}

fn team_message(
    inputs: &Inputs,
    org: &Org,
    config: &ChatConfig,
    t: &Thresholds,
    memory: &Memory,
    team: &str,
    as_of: NaiveDate,
) -> Option<Message> {
    let month = Month::of(as_of);
    let mut draft = Draft {
        inputs,
        memory,
        t,
        team,
        as_of,
        month,
        sections: Vec::new(),
        items: Vec::new(),
        triggered: false,
        wins: Vec::new(),
    };
    draft.budget();
    draft.this_week();
    draft.unallocated();
    draft.recommendations();
    draft.anomalies();
    draft.verified_wins();
    let Draft { sections, items, triggered, .. } = draft;
    if !triggered {
        return None;
    }
    let report = Some(match &config.report {
        Some(template) => template
            .replace("{team}", team)
            .replace("{as_of}", &as_of.to_string())
            .replace("{month}", &month.to_string()),
        None => format!("tally report weekly --as-of {as_of}"),
    });
    Some(Message {
        team: team.to_string(),
        org_path: org.path(team, as_of),
        as_of,
        title: format!("{team}: cloud spend, week to {}", as_of.format("%b %-d, %Y")),
        sections,
        report,
        items,
    })
}
/// One team's message while it is written: its sections in order, the items it tells,
/// whether any is news, and wins gathered along the way (their own section, last).
struct Draft<'a> {
    inputs: &'a Inputs,
    memory: &'a Memory,
    t: &'a Thresholds,
    team: &'a str,
    as_of: NaiveDate,
    month: Month,
    sections: Vec<Section>,
    items: Vec<Item>,
    triggered: bool,
    wins: Vec<Line>,
}

impl Draft<'_> {
    /// Budget: context always, news when at risk or over (or back on track).
    fn budget(&mut self) {
        let (inputs, memory, team, as_of, month) = (self.inputs, self.memory, self.team, self.as_of, self.month);
        // Budget: context always, news when at risk or over (or back on track).
        let budget_lines: Vec<Line> = inputs
            .budgets
            .iter()
            .filter(|b| b.owner == team && b.kind == "team")
            .map(|b| {
                let id = format!("budget:{team}:{}", b.month);
                let state = b.status.name().to_string();
                let before = memory.items.get(&id).map(|e| e.state.clone());
                let alarming = matches!(b.status, Status::AtRisk | Status::OverTolerance);
                if alarming && worth_telling(memory, &id, &state, None, 0, as_of) {
                    self.triggered = true;
                }
                if b.status == Status::OnTrack && matches!(before.as_deref(), Some("at risk" | "over tolerance")) {
                    self.triggered = true;
                    self.wins.push(vec![
                        text_span("Back on track: "),
                        text_span(format!("the {} budget was {} when last told", b.month, before.unwrap_or_default())),
                    ]);
                }
                self.items.push(Item { id, kind: "budget", state, value: b.variance_pct });
                budget_line(b)
            })
            .collect();
        if !budget_lines.is_empty() {
            self.sections.push(Section { heading: format!("Budget, {}", month_name(month)), lines: budget_lines });
        }
    }

    /// This week: totals per currency from the service rows, the drivers from services and resources.
    fn this_week(&mut self) {
        let (inputs, memory, t, team, as_of) = (self.inputs, self.memory, self.t, self.team, self.as_of);
        // This week: totals per currency from the service rows, the drivers from services and resources.
        let mine: Vec<&Driver> = inputs.drivers.iter().filter(|d| d.team == team).collect();
        let mut currencies: Vec<&str> = mine.iter().map(|d| d.currency.as_str()).collect();
        currencies.dedup();
        let mut week_lines = Vec::new();
        let start = as_of - chrono::Duration::days(6);
        for currency in currencies {
            let rows: Vec<&&Driver> = mine.iter().filter(|d| d.currency == currency).collect();
            let (this, prior): (i128, i128) = rows
                .iter()
                .filter(|d| d.dimension == "service")
                .fold((0, 0), |(a, b), d| (a + d.this_week, b + d.prior_week));
            let change = this - prior;
            let big = change.abs() >= t.min_change
                && (prior == 0 || change.abs() * PERCENT_WHOLE >= t.min_change_pct.0 * prior.abs());
            let id = format!("week:{team}:{currency}");
            let recent = memory.items.get(&id).is_some_and(|e| {
                e.status == Event::Sent && e.as_of.is_some_and(|d| d <= as_of && (as_of - d).num_days() < 7)
            });
            if big && !recent {
                self.triggered = true;
                self.items.push(Item { id, kind: "week", state: as_of.to_string(), value: Some(change) });
            }
            let pct = percent(change, prior).map(|p| format!(" ({}{p}%)", if change > 0 { "+" } else { "" }));
            week_lines.push(vec![
                text_span(format!("{}–{}: ", fmt_day(start), fmt_day(as_of))),
                Span::Bold(money(this, currency)),
                text_span(format!(
                    ", {}{} vs the week before ({})",
                    signed_money(change, currency),
                    pct.unwrap_or_default(),
                    money(prior, currency)
                )),
            ]);
            // Converted spend says what it was billed as, where that is at least 1% of the week.
            let material = |b: &&BilledIn| b.converted_week.abs() * 100 >= this.abs() && b.billed_week != 0;
            for b in inputs.billed_in.iter().filter(|b| b.team == team && b.currency != currency).filter(material) {
                week_lines.push(vec![text_span(format!(
                    "of which billed in {}: {} at {} {currency} per {} = {}",
                    b.currency,
                    money(b.billed_week, &b.currency),
                    b.rates_text(),
                    b.currency,
                    money(b.converted_week, currency)
                ))]);
            }
            if big && change < 0 {
                self.wins.push(vec![text_span(format!("Spend down {} on the week before", money(-change, currency)))]);
            }
            let mut movers: Vec<&&&Driver> =
                rows.iter().filter(|d| d.dimension == "service" && d.change != 0).collect();
            movers.sort_by(|a, b| b.change.abs().cmp(&a.change.abs()).then(a.key.cmp(&b.key)));
            for d in movers.into_iter().take(t.max_items) {
                week_lines.push(driver_line("", d, currency));
            }
            let resource = rows
                .iter()
                .filter(|d| d.dimension == "resource" && !d.key.is_empty() && d.change != 0)
                .max_by(|a, b| a.change.abs().cmp(&b.change.abs()).then(b.key.cmp(&a.key)));
            if let Some(d) = resource {
                week_lines.push(driver_line("largest resource move: ", d, currency));
            }
            // Spend in a shared cluster: the workload (cluster/namespace/workload) that moved most.
            let workload = rows
                .iter()
                .filter(|d| d.dimension == "workload" && d.change != 0)
                .max_by(|a, b| a.change.abs().cmp(&b.change.abs()).then(b.key.cmp(&a.key)));
            if let Some(d) = workload {
                week_lines.push(driver_line("largest workload move: ", d, currency));
            }
        }
        if !week_lines.is_empty() {
            self.sections.push(Section { heading: "This week".into(), lines: week_lines });
        }
    }

    /// Unallocated spend in accounts the team owns most of.
    fn unallocated(&mut self) {
        let (inputs, memory, t, team, as_of, month) =
            (self.inputs, self.memory, self.t, self.team, self.as_of, self.month);
        // Unallocated spend in accounts the team owns most of.
        let mut lines = Vec::new();
        for u in inputs.unallocated.iter().filter(|u| u.team == team && u.amount >= t.min_unallocated).take(t.max_items)
        {
            let id = format!("unallocated:{team}:{}:{month}", u.account);
            if worth_telling(memory, &id, "open", Some(u.amount), t.min_unallocated, as_of) {
                self.triggered = true;
            }
            self.items.push(Item { id, kind: "unallocated", state: "open".into(), value: Some(u.amount) });
            lines.push(vec![
                Span::Bold(money(u.amount, &u.currency)),
                text_span(format!(" in {} so far with no owner, in account ", month_name(month))),
                Span::Data(u.account.clone()),
                text_span(format!(
                    " ({} resource{}, {} line items), where most spend is yours: tag them team={team} or add a rule",
                    u.resources,
                    if u.resources == 1 { "" } else { "s" },
                    u.line_items
                )),
            ]);
        }
        if !lines.is_empty() {
            self.sections.push(Section { heading: "Unallocated spend you probably own".into(), lines });
        }
    }

    /// Recommendations not told before (or changed materially), largest first.
    fn recommendations(&mut self) {
        let (inputs, memory, t, team, as_of) = (self.inputs, self.memory, self.t, self.team, self.as_of);
        // Recommendations not told before (or changed materially), largest first.
        let mut recs: Vec<&Finding> = inputs
            .findings
            .iter()
            .filter(|f| f.team == team && f.kind != "realized_savings" && f.kind != "anomaly")
            .filter(|f| f.status.is_empty() || f.status == "open")
            .filter(|f| f.monthly_savings.is_some_and(|s| s >= t.min_savings))
            .filter(|f| {
                worth_telling(
                    memory,
                    &format!("finding:{}", f.finding_id),
                    &f.status,
                    f.monthly_savings,
                    t.min_savings,
                    as_of,
                )
            })
            .collect();
        recs.sort_by(|a, b| b.monthly_savings.cmp(&a.monthly_savings).then(a.finding_id.cmp(&b.finding_id)));
        let lines: Vec<Line> = recs
            .iter()
            .take(t.max_items)
            .map(|f| {
                self.triggered = true;
                self.items.push(Item {
                    id: format!("finding:{}", f.finding_id),
                    kind: "recommendation",
                    state: f.status.clone(),
                    value: f.monthly_savings,
                });
                recommendation_line(f, t)
            })
            .collect();
        if !lines.is_empty() {
            self.sections.push(Section { heading: "Top recommendations".into(), lines });
        }
    }

    /// Anomalies: spend over what was expected, not told before.
    fn anomalies(&mut self) {
        let (inputs, memory, t, team, as_of) = (self.inputs, self.memory, self.t, self.team, self.as_of);
        // Anomalies: spend over what was expected, not told before.
        let mut lines = Vec::new();
        for f in inputs.findings.iter().filter(|f| f.team == team && f.kind == "anomaly") {
            let id = format!("finding:{}", f.finding_id);
            let excess = f.monthly_savings.unwrap_or(0);
            if lines.len() >= t.max_items
                || excess < t.min_savings
                || !worth_telling(memory, &id, &f.status, f.monthly_savings, t.min_savings, as_of)
            {
                continue;
            }
            self.triggered = true;
            self.items.push(Item { id, kind: "anomaly", state: f.status.clone(), value: f.monthly_savings });
            lines.push(vec![
                Span::Data(f.title.clone()),
                text_span(format!(" ({} over the expected)", money(excess, &f.currency))),
            ]);
        }
        if !lines.is_empty() {
            self.sections.push(Section { heading: "Anomalies".into(), lines });
        }
    }

    /// Wins: verified realized savings not told before, then every win as a section.
    fn verified_wins(&mut self) {
        let (inputs, memory, t, team, as_of) = (self.inputs, self.memory, self.t, self.team, self.as_of);
        // Wins: verified realized savings not told before.
        for f in
            inputs.findings.iter().filter(|f| f.team == team && f.kind == "realized_savings" && f.status == "verified")
        {
            let id = format!("finding:{}", f.finding_id);
            if !worth_telling(memory, &id, &f.status, f.monthly_savings, t.min_savings, as_of) {
                continue;
            }
            self.triggered = true;
            self.items.push(Item { id, kind: "win", state: f.status.clone(), value: f.monthly_savings });
            let mut line = vec![Span::Data(f.title.clone())];
            if let Some(s) = f.monthly_savings {
                line.push(text_span(format!(": {}/month saved, verified", money(s, &f.currency))));
            }
            self.wins.push(line);
            if self.wins.len() >= t.max_items {
                break;
            }
        }
        if !self.wins.is_empty() {
            self.sections.push(Section { heading: "Wins".into(), lines: std::mem::take(&mut self.wins) });
        }
    }
}

fn month_name(month: Month) -> String {
    month.first().format("%B %Y").to_string()
}

fn budget_line(b: &BudgetStatus) -> Line {
    let c = &b.currency;
    let over = b.variance_pct.map(|v| {
        // hundredths of a percent -> tenths, rounded half away from zero
        let tenths = div_round(v, 10);
        format!("{}.{}%", tenths.abs() / 10, tenths.abs() % 10)
    });
    let (label, detail) = match b.status {
        Status::OnTrack => (
            "On track".to_string(),
            format!(": forecast {} of a {} budget by month end", money(b.forecast, c), money(b.budget, c)),
        ),
        Status::AtRisk => (
            format!("At risk: forecast {} over by month end", over.unwrap_or_default()),
            format!(" ({} forecast, {} budget)", money(b.forecast, c), money(b.budget, c)),
        ),
        Status::OverTolerance => (
            format!("Over budget: forecast {} over", over.unwrap_or_default()),
            format!(" ({} forecast, {} budget)", money(b.forecast, c), money(b.budget, c)),
        ),
        Status::Approved => (
            "Over budget, within an approved variance".to_string(),
            format!(": forecast {} of a {} budget", money(b.forecast, c), money(b.budget, c)),
        ),
    };
    vec![
        Span::Bold(label),
        text_span(format!(
            "{detail}; {} spent through {}",
            money(b.actual, c),
            b.data_end.map(fmt_day).unwrap_or_default()
        )),
    ]
}

fn driver_line(prefix: &str, d: &Driver, currency: &str) -> Line {
    let key = if d.key.is_empty() { "(none)".to_string() } else { d.key.clone() };
    vec![
        text_span(prefix),
        Span::Data(key),
        text_span(format!(
            " {} ({} → {})",
            signed_money(d.change, currency),
            money(d.prior_week, currency),
            money(d.this_week, currency)
        )),
    ]
}

fn recommendation_line(f: &Finding, t: &Thresholds) -> Line {
    let savings = f.monthly_savings.unwrap_or(0);
    let c = &f.currency;
    let mut line = vec![Span::Data(f.title.clone()), text_span(format!(": saves {}/month", money(savings, c)))];
    match f.effort_centidays {
        Some(days) if days > 0 => {
            // savings per dev-week (5 dev-days) = savings * 5 / days, days in hundredths
            let per_week = div_round(savings * 500, days);
            let verdict = if per_week >= t.worth_per_dev_week { "worth it" } else { "below the bar" };
            line.push(text_span(format!(
                " for {} dev-day{}: {}/month per dev-week, {verdict} ({} per dev-week)",
                crate::money::format(days, 2),
                if days == 100 { "" } else { "s" },
                money(per_week, c),
                money(t.worth_per_dev_week, c)
            )));
        }
        _ => line.push(text_span(", effort not estimated")),
    }
    line
}
