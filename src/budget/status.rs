//! Budget status for a month: actual to date, forecast for month end and
//! status of every budget, from the lake's `attributed` table.
//!
//! A node's spend is its teams' spend where the team sits under it on the
//! charge date (as-was): when a team moves mid-month, the days before the move
//! count for the old parent and the days from the move on for the new one,
//! actuals and projected days alike.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Decimal128Type};
use datafusion::prelude::SessionContext;

use super::file::{Budget, Budgets, CostColumn};
use super::forecast::{self, SeriesKey, WINDOW_DAYS};
use crate::attribute::currency::Currency;
use crate::attribute::org::Org;
use crate::calendar::Month;
use crate::money;
use crate::money::{PERCENT_WHOLE, div_round};

const DAILY_SQL: &str = include_str!("../../queries/budget_daily.sql");

/// One row of [`DAILY_SQL`].
#[derive(Debug, Clone)]
pub struct DailyRow {
    pub period: String,
    pub team: String,
    pub day: NaiveDate,
    pub currency: String,
    pub category: String,
    pub service: String,
    /// `[BilledCost, EffectiveCost]`.
    pub cost: [i128; 2],
}

fn cost_index(cost: CostColumn) -> usize {
    match cost {
        CostColumn::BilledCost => 0,
        CostColumn::EffectiveCost => 1,
    }
}

/// Daily spend of the given months.
pub async fn daily_rows(ctx: &SessionContext, months: &[Month]) -> datafusion::error::Result<Vec<DailyRow>> {
    // Months are formatted by us (digits and a dash), so quoting them inline is safe.
    let periods: Vec<String> = months.iter().map(|m| format!("'{m}'")).collect();
    let sql = DAILY_SQL.replace("{periods}", &periods.join(", "));
    let batches = crate::lake::sql::query(ctx, &sql).await?.collect().await?;
    let mut rows = Vec::new();
    for batch in batches {
        // Text may come back as Utf8 or Utf8View depending on the plan: read it as Utf8.
        let text = |i: usize| -> datafusion::error::Result<StringArray> {
            Ok(cast(batch.column(i), &DataType::Utf8)?.as_string::<i32>().clone())
        };
        let (period, team, currency, category, service) = (text(0)?, text(1)?, text(3)?, text(4)?, text(5)?);
        let day = batch.column(2).as_primitive::<Date32Type>();
        let billed = batch.column(6).as_primitive::<Decimal128Type>();
        let effective = batch.column(7).as_primitive::<Decimal128Type>();
        for i in 0..batch.num_rows() {
            let Some(day) = (!day.is_null(i)).then(|| Date32Type::to_naive_date_opt(day.value(i))).flatten() else {
                continue;
            };
            rows.push(DailyRow {
                period: period.value(i).to_string(),
                team: if team.is_null(i) { String::new() } else { team.value(i).to_string() },
                day,
                currency: if currency.is_null(i) { String::new() } else { currency.value(i).to_string() },
                category: category.value(i).to_string(),
                service: service.value(i).to_string(),
                cost: [billed.value(i), effective.value(i)],
            });
        }
    }
    Ok(rows)
}

/// The currencies in the lake's attributed spend.
pub async fn currencies(ctx: &SessionContext) -> datafusion::error::Result<Vec<String>> {
    let sql = r#"SELECT DISTINCT "BillingCurrency" FROM attributed WHERE "BillingCurrency" IS NOT NULL ORDER BY 1"#;
    let mut out = Vec::new();
    for batch in crate::lake::sql::query(ctx, sql).await?.collect().await? {
        let column = cast(batch.column(0), &DataType::Utf8)?;
        out.extend(column.as_string::<i32>().iter().flatten().map(str::to_string));
    }
    Ok(out)
}

/// One team's month, in one currency.
#[derive(Debug, Default)]
pub struct TeamMonth {
    /// Spend per charge day up to the data's end, `[billed, effective]`.
    pub actual: BTreeMap<NaiveDate, [i128; 2]>,
    /// Projected spend of each remaining day, `[billed, effective]`.
    pub projected: Vec<(NaiveDate, [i128; 2])>,
}

/// What the lake holds for a month as of a date, per team and currency.
#[derive(Debug)]
pub struct MonthView {
    pub month: Month,
    /// The last charge day present in the month, on or before the as-of date.
    pub data_end: Option<NaiveDate>,
    pub teams: BTreeMap<(String, String), TeamMonth>,
}

impl MonthView {
    /// Days of the month with data (through `data_end`).
    pub fn days_of_data(&self) -> i64 {
        self.data_end.map_or(0, |d| (d - self.month.first()).num_days() + 1)
    }

    /// Builds the view of `month` from the daily rows of it and the month before,
    /// seeing only charges on or before `as_of`.
    pub fn build(rows: &[DailyRow], month: Month, as_of: NaiveDate) -> MonthView {
        let period = month.to_string();
        let cutoff = as_of.min(month.last());
        let data_end = rows.iter().filter(|r| r.period == period && r.day <= cutoff).map(|r| r.day).max();
        let window_end = data_end.unwrap_or(month.first().pred_opt().expect("day exists"));
        let earliest = rows.iter().map(|r| r.day).min();
        let window: Vec<NaiveDate> = match earliest {
            Some(earliest) if earliest <= window_end => {
                let start = (window_end - chrono::Duration::days(WINDOW_DAYS - 1)).max(earliest);
                forecast::days_between(start, window_end)
            }
            _ => Vec::new(),
        };
        let remaining = match window_end.succ_opt() {
            Some(next) if next <= month.last() => forecast::days_between(next, month.last()),
            _ => Vec::new(),
        };

        type Series = [BTreeMap<SeriesKey, BTreeMap<NaiveDate, i128>>; 2];
        let mut history: BTreeMap<(String, String), Series> = BTreeMap::new();
        let mut teams: BTreeMap<(String, String), TeamMonth> = BTreeMap::new();
        for row in rows.iter().filter(|r| r.day <= window_end) {
            let key = (row.team.clone(), row.currency.clone());
            if row.period == period {
                let day = teams.entry(key.clone()).or_default().actual.entry(row.day).or_default();
                day[0] += row.cost[0];
                day[1] += row.cost[1];
            }
            if window.first().is_some_and(|first| row.day >= *first) {
                let series = history.entry(key).or_default();
                for (i, cost) in row.cost.iter().enumerate() {
                    *series[i]
                        .entry((row.category.clone(), row.service.clone()))
                        .or_default()
                        .entry(row.day)
                        .or_default() += cost;
                }
            }
        }
        for (key, series) in &history {
            let [billed, effective] = [0, 1].map(|i| {
                let daily = forecast::recurring_daily(&series[i], &window);
                forecast::project(&daily, &remaining)
            });
            let projected = billed.iter().zip(&effective).map(|((day, b), (_, e))| (*day, [*b, *e])).collect();
            teams.entry(key.clone()).or_default().projected = projected;
        }
        MonthView { month, data_end, teams }
    }

    /// `owner`'s spend per day of the month (a team, or a node: its teams on each day), in
    /// `currency` and `cost`: actual through the data's end, then each remaining day projected.
    pub fn owner_days(&self, org: &Org, owner: &str, currency: &str, cost: CostColumn) -> OwnerDays {
        let i = cost_index(cost);
        let mut days = OwnerDays::default();
        for ((team, cur), month) in &self.teams {
            if cur != currency {
                continue;
            }
            let under = |day: NaiveDate| team == owner || org.is_under(team, owner, day);
            for (day, c) in month.actual.iter().filter(|(d, _)| under(**d)) {
                *days.actual.entry(*day).or_default() += c[i];
            }
            for (day, c) in month.projected.iter().filter(|(d, _)| under(*d)) {
                *days.projected.entry(*day).or_default() += c[i];
            }
        }
        days
    }

    /// Actual to date and forecast for month end of `owner`, as [`MonthView::owner_days`] adds up.
    pub fn owner_totals(&self, org: &Org, owner: &str, currency: &str, cost: CostColumn) -> (i128, i128) {
        let days = self.owner_days(org, owner, currency, cost);
        let actual: i128 = days.actual.values().sum();
        (actual, actual + days.projected.values().sum::<i128>())
    }
}

/// One owner's month, day by day.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OwnerDays {
    pub actual: BTreeMap<NaiveDate, i128>,
    pub projected: BTreeMap<NaiveDate, i128>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    OnTrack,
    Approved,
    AtRisk,
    OverTolerance,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::OnTrack => "on track",
            Status::Approved => "approved",
            Status::AtRisk => "at risk",
            Status::OverTolerance => "over tolerance",
        }
    }
}

/// The status of one budget in one month.
#[derive(Debug, Clone)]
pub struct BudgetStatus {
    pub month: Month,
    pub owner: String,
    pub kind: &'static str,
    /// Org path of the owner at month end, for ordering.
    pub path: String,
    pub currency: String,
    pub cost: CostColumn,
    pub budget: i128,
    /// Tolerance in ten-thousandths of a percent.
    pub tolerance: i128,
    pub actual: i128,
    pub forecast: i128,
    /// (forecast - budget) / budget in hundredths of a percent.
    pub variance_pct: Option<i128>,
    pub status: Status,
    /// Extra spend allowed by approvals holding on the as-of date.
    pub approved: i128,
    /// Budgets of the budgeted owners directly beneath, prorated by days under this one.
    pub children_budget: Option<i128>,
    pub days_of_data: i64,
    pub data_end: Option<NaiveDate>,
    pub as_of: NaiveDate,
    pub note: String,
}

/// `x > budget * (1 + tolerance) + extra`, exactly.
fn exceeds(x: i128, budget: i128, tolerance: i128, extra: i128) -> bool {
    let scaled = |a: i128, b: i128| a.checked_mul(b).expect("amount too large for a budget comparison");
    scaled(x, PERCENT_WHOLE) > scaled(budget, PERCENT_WHOLE + tolerance) + scaled(extra, PERCENT_WHOLE)
}

/// Statuses of every budget in force in `view.month`, in org order.
/// A budget in a currency other than the reporting one is converted at the month's rate
/// (currency.toml), its approvals with it, and says so in its note.
pub fn statuses(
    view: &MonthView,
    org: &Org,
    budgets: &Budgets,
    reporting: Option<&Currency>,
    as_of: NaiveDate,
) -> Vec<BudgetStatus> {
    let month = view.month;
    let in_force = budgets.for_month(month);
    let mut out = Vec::new();
    for (budget, written) in &in_force {
        let mut notes = Vec::new();
        // The budget's currency and rate into the currency its actuals are in.
        let (currency, rate) = match reporting.filter(|c| c.reporting != budget.currency) {
            None => (budget.currency.as_str(), money::RATE_ONE),
            Some(c) => match c.rate(&budget.currency, &month.to_string()) {
                Ok(rate) => {
                    notes.push(format!(
                        "budget {} at {} {} per {} ({}{})",
                        money::text::money(*written, &budget.currency),
                        money::format(rate.rate, money::RATE_SCALE as u32),
                        c.reporting,
                        budget.currency,
                        rate.policy,
                        rate.date.map(|d| format!(" {d}")).unwrap_or_default()
                    ));
                    (c.reporting, rate.rate)
                }
                Err(missing) => {
                    notes.push(format!("not converted: {missing}"));
                    (budget.currency.as_str(), money::RATE_ONE)
                }
            },
        };
        let convert = |x: i128| money::convert(x, rate).expect("a budget converts within 38 digits");
        let amount = convert(*written);
        let (actual, forecast) = view.owner_totals(org, &budget.owner, currency, budget.cost);
        let mut approved = 0;
        for approval in budgets.approvals.iter().filter(|a| a.owner == budget.owner && a.month == month) {
            if approval.holds_on(as_of) {
                approved += convert(approval.allowance(*written));
                notes.push(format!(
                    "+{} approved by {} until {}: {}",
                    money::text::money(convert(approval.allowance(*written)), currency),
                    approval.approver,
                    approval.expires.pred_opt().expect("day exists"),
                    approval.reason
                ));
            } else {
                notes.push(format!("approval by {} expired {}", approval.approver, approval.expires));
            }
        }
        let tolerance = budget.tolerance.0;
        let status = if exceeds(actual, amount, tolerance, approved) {
            Status::OverTolerance
        } else if exceeds(forecast, amount, tolerance, approved) {
            Status::AtRisk
        } else if exceeds(actual, amount, tolerance, 0) || exceeds(forecast, amount, tolerance, 0) {
            Status::Approved
        } else {
            Status::OnTrack
        };
        let children_budget = children_budget(org, budget, &in_force, month);
        if let Some(children) = children_budget
            && children > amount
        {
            notes.push(format!(
                "budgets beneath add up to {}, more than this one",
                money::text::money(children, currency)
            ));
        }
        out.push(BudgetStatus {
            month,
            owner: budget.owner.clone(),
            kind: if org.is_team(&budget.owner) { "team" } else { "node" },
            path: org.path(&budget.owner, month.last()),
            currency: currency.to_string(),
            cost: budget.cost,
            budget: amount,
            tolerance,
            actual,
            forecast,
            variance_pct: (amount != 0).then(|| div_round((forecast - amount) * 10_000, amount)),
            status,
            approved,
            children_budget,
            days_of_data: view.days_of_data(),
            data_end: view.data_end,
            as_of,
            note: notes.join("; "),
        });
    }
    out.sort_by(|a, b| (&a.path, &a.currency, a.cost.name()).cmp(&(&b.path, &b.currency, b.cost.name())));
    out
}

/// The budgets of owners whose nearest budgeted ancestor is `parent`, each
/// prorated by the days of the month it sits beneath it (a team that moves on
/// the 15th of a 31-day month counts 14/31 for the old parent and 17/31 for
/// the new). Only budgets in the same currency and cost column count.
fn children_budget(org: &Org, parent: &Budget, in_force: &[(&Budget, i128)], month: Month) -> Option<i128> {
    if org.is_team(&parent.owner) {
        return None;
    }
    let budgeted: BTreeSet<&str> = in_force
        .iter()
        .filter(|(b, _)| b.currency == parent.currency && b.cost == parent.cost)
        .map(|(b, _)| b.owner.as_str())
        .collect();
    let days = forecast::days_between(month.first(), month.last());
    let mut total = None;
    for (child, amount) in in_force {
        if child.owner == parent.owner || child.currency != parent.currency || child.cost != parent.cost {
            continue;
        }
        let beneath = days
            .iter()
            .filter(|day| {
                let path = org.path(&child.owner, **day);
                let nearest = path.rsplit('/').skip(1).find(|node| budgeted.contains(node));
                nearest == Some(parent.owner.as_str())
            })
            .count() as i128;
        if beneath > 0 {
            *total.get_or_insert(0) += div_round(amount * beneath, days.len() as i128);
        }
    }
    total
}

/// Forecast error on the lake's complete months: per month and cut-off day,
/// the mean absolute percentage error of each team's month-end forecast
/// (EffectiveCost) made with the data through that day, and the error of the
/// company total. Teams with no spend in the month are left out.
#[derive(Debug, Clone)]
pub struct BacktestRow {
    pub month: Month,
    pub day: u32,
    pub teams: usize,
    /// Mean absolute % error over teams, in hundredths of a percent.
    pub mape: i128,
    /// Absolute % error of the total, in hundredths of a percent.
    pub total_ape: i128,
}

pub fn backtest(rows: &[DailyRow], month: Month, days: &[u32]) -> Vec<BacktestRow> {
    let full = MonthView::build(rows, month, month.last());
    if full.data_end != Some(month.last()) {
        return Vec::new();
    }
    let finals: BTreeMap<&(String, String), i128> =
        full.teams.iter().map(|(k, t)| (k, t.actual.values().map(|c| c[1]).sum())).collect();
    let mut out = Vec::new();
    for &day in days {
        let Some(as_of) = month.first().checked_add_days(chrono::Days::new(u64::from(day) - 1)) else { continue };
        let view = MonthView::build(rows, month, as_of);
        let mut errors = Vec::new();
        let (mut total_forecast, mut total_actual) = (0i128, 0i128);
        for (key, actual) in &finals {
            let forecast = view.teams.get(*key).map_or(0, |t| {
                t.actual.values().map(|c| c[1]).sum::<i128>() + t.projected.iter().map(|(_, c)| c[1]).sum::<i128>()
            });
            total_forecast += forecast;
            total_actual += actual;
            if *actual != 0 {
                errors.push(div_round((forecast - actual).abs() * 10_000, actual.abs()));
            }
        }
        if errors.is_empty() {
            continue;
        }
        out.push(BacktestRow {
            month,
            day,
            teams: errors.len(),
            mape: div_round(errors.iter().sum(), errors.len() as i128),
            total_ape: if total_actual == 0 {
                0
            } else {
                div_round((total_forecast - total_actual).abs() * 10_000, total_actual.abs())
            },
        });
    }
    out
}
