//! `budgets.toml` and `approvals.toml` in the mappings folder: parsed,
//! validated against the org, and resolved per month.
//!
//! Amounts are exact (strings or integers, never TOML floats), percentages
//! have at most 4 decimals, months are `"YYYY-MM"` and `until` is exclusive,
//! as for rules. Every error names the file and the line of the value at fault.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use toml::Spanned;

use crate::attribute::mappings::{MappingError, day, line_at, parse_toml};
use crate::attribute::org::Org;
use crate::money;

pub const BUDGETS_FILE: &str = "budgets.toml";
pub const APPROVALS_FILE: &str = "approvals.toml";

/// A calendar month, stored as its first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub NaiveDate);

impl Month {
    pub fn parse(text: &str) -> Option<Month> {
        if text.len() != 7 {
            return None;
        }
        NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").ok().map(Month)
    }

    pub fn of(day: NaiveDate) -> Month {
        Month(day.with_day(1).expect("day 1 exists"))
    }

    pub fn first(self) -> NaiveDate {
        self.0
    }

    pub fn next(self) -> Month {
        Month(self.0.checked_add_months(chrono::Months::new(1)).expect("month in range"))
    }

    pub fn prev(self) -> Month {
        Month(self.0.checked_sub_months(chrono::Months::new(1)).expect("month in range"))
    }

    pub fn last(self) -> NaiveDate {
        self.next().0.pred_opt().expect("day exists")
    }

    pub fn days(self) -> u32 {
        self.last().day()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m"))
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Month, D::Error> {
        let text = String::deserialize(deserializer)?;
        Month::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a month like \"2026-08\"")))
    }
}

/// An exact amount at [`money::SCALE`], written `"1234.56"` or `1234`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money(pub i128);

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an amount as a string (\"1234.56\") or an integer")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Money, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Money, E> {
                money::parse(text).map(|p| Money(p.value)).map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Money, E> {
                Err(E::custom(format!("write the amount {v} as a string (\"{v}\"): TOML floats are inexact")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A percentage in ten-thousandths of a percent: `"2.5%"` is 25_000.
/// Fractions of it are `value / 1_000_000`, so products stay well inside i128.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Percent(pub i128);

/// `Percent` units in 100%.
pub const PERCENT_WHOLE: i128 = 1_000_000;

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Percent, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a percentage like \"2%\" or \"2.5%\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Percent, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Percent, E> {
                let number = text.trim().trim_end_matches('%');
                let parsed = money::parse_with_scale(number, 4)
                    .map_err(|_| E::custom(format!("{text:?} is not a percentage like \"2%\"")))?;
                if parsed.rounded {
                    return Err(E::custom(format!("{text:?}: at most 4 decimals in a percentage")));
                }
                if parsed.value < 0 {
                    return Err(E::custom(format!("{text:?}: a percentage cannot be negative")));
                }
                Ok(Percent(parsed.value))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Percent, E> {
                Err(E::custom(format!("write the percentage {v} as a string (\"{v}%\"): TOML floats are inexact")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Percent {
    /// `amount * self`, rounded half away from zero at the money scale.
    pub fn of(self, amount: i128) -> i128 {
        div_round(amount * self.0, PERCENT_WHOLE)
    }
}

/// `n / d` rounded half away from zero (`d > 0`).
pub fn div_round(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    if 2 * r.abs() >= d { q + n.signum() } else { q }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum CostColumn {
    /// Amortized: what the usage cost, commitments spread over it (the default).
    #[default]
    EffectiveCost,
    /// What the invoice says, purchases on the day they were made.
    BilledCost,
}

impl CostColumn {
    pub fn name(self) -> &'static str {
        match self {
            CostColumn::EffectiveCost => "EffectiveCost",
            CostColumn::BilledCost => "BilledCost",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetsSpec {
    /// Defaults for every entry.
    currency: Option<Spanned<String>>,
    cost: Option<CostColumn>,
    tolerance: Option<Percent>,
    #[serde(default, rename = "budget")]
    budgets: Vec<BudgetSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetSpec {
    /// A team or an org node from org.toml.
    owner: Spanned<String>,
    /// The amount for every month in `from..until`.
    monthly: Option<Spanned<Money>>,
    from: Option<Month>,
    until: Option<Month>,
    /// Per-month amounts (`"2026-11" = "6000"`), alone or overriding `monthly`.
    #[serde(default)]
    months: BTreeMap<Spanned<String>, Spanned<Money>>,
    currency: Option<Spanned<String>>,
    cost: Option<CostColumn>,
    tolerance: Option<Percent>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalsSpec {
    #[serde(default, rename = "approval")]
    approvals: Vec<ApprovalSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalSpec {
    owner: Spanned<String>,
    month: Spanned<Month>,
    amount: Option<Spanned<Money>>,
    percent: Option<Percent>,
    approver: String,
    reason: String,
    /// The approval holds on days before this one.
    #[serde(deserialize_with = "day")]
    expires: NaiveDate,
}

/// A budget entry, validated.
#[derive(Debug, Clone)]
pub struct Budget {
    pub owner: String,
    /// Line of the entry's `owner`, for errors about the whole entry.
    pub line: usize,
    pub currency: String,
    pub currency_line: usize,
    pub cost: CostColumn,
    pub tolerance: Percent,
    monthly: Option<i128>,
    from: Option<Month>,
    until: Option<Month>,
    months: BTreeMap<Month, i128>,
}

impl Budget {
    /// The amount for `month`, if this entry covers it.
    pub fn amount(&self, month: Month) -> Option<i128> {
        if let Some(amount) = self.months.get(&month) {
            return Some(*amount);
        }
        let in_range = self.from.is_none_or(|f| f <= month) && self.until.is_none_or(|u| month < u);
        self.monthly.filter(|_| in_range)
    }

    fn covers_any_of(&self, other: &Budget) -> Option<String> {
        // Explicit months first, then whether the two ranges meet.
        for month in self.months.keys().chain(other.months.keys()) {
            if self.amount(*month).is_some() && other.amount(*month).is_some() {
                return Some(month.to_string());
            }
        }
        if self.monthly.is_some() && other.monthly.is_some() {
            let start = self.from.max(other.from);
            let end = match (self.until, other.until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let first = start.unwrap_or(Month(NaiveDate::MIN));
            if end.is_none_or(|e| first < e) {
                return Some(match start {
                    Some(m) => format!("from {m}"),
                    None => "every month".to_string(),
                });
            }
        }
        None
    }
}

/// An approved variance, validated.
#[derive(Debug, Clone)]
pub struct Approval {
    pub owner: String,
    pub month: Month,
    pub amount: Option<i128>,
    pub percent: Option<Percent>,
    pub approver: String,
    pub reason: String,
    pub expires: NaiveDate,
    pub line: usize,
}

impl Approval {
    pub fn holds_on(&self, day: NaiveDate) -> bool {
        day < self.expires
    }

    /// The extra spend it allows on top of `budget`.
    pub fn allowance(&self, budget: i128) -> i128 {
        self.amount.unwrap_or(0) + self.percent.map_or(0, |p| p.of(budget))
    }
}

#[derive(Debug)]
pub struct Budgets {
    pub file: PathBuf,
    pub budgets: Vec<Budget>,
    pub approvals: Vec<Approval>,
    pub approvals_file: PathBuf,
}

/// What a file's text needs for line numbers.
struct Source<'a> {
    path: String,
    text: &'a str,
}

impl Source<'_> {
    fn line(&self, offset: usize) -> usize {
        line_at(self.text, offset)
    }

    fn error_at(&self, offset: usize, message: impl Into<String>) -> MappingError {
        MappingError::new(&self.path, Some(self.line(offset)), message)
    }

    fn parse<T: for<'de> Deserialize<'de>>(&self) -> Result<T, MappingError> {
        parse_toml(&self.path, self.text)
    }
}

impl Budgets {
    /// Reads `budgets.toml` (required) and `approvals.toml` (optional) from the mappings folder.
    pub fn load(dir: &Path, org: &Org) -> Result<Budgets, MappingError> {
        let file = dir.join(BUDGETS_FILE);
        let text = std::fs::read_to_string(&file).map_err(|e| {
            MappingError::new(
                file.display().to_string(),
                None,
                format!("cannot read: {e} (budgets live in the mappings folder)"),
            )
        })?;
        let approvals_file = dir.join(APPROVALS_FILE);
        let approvals_text = match std::fs::read_to_string(&approvals_file) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(MappingError::new(approvals_file.display().to_string(), None, format!("cannot read: {e}")));
            }
        };
        Budgets::parse(&file, &text, &approvals_file, approvals_text.as_deref(), org)
    }

    pub fn parse(
        file: &Path,
        text: &str,
        approvals_file: &Path,
        approvals_text: Option<&str>,
        org: &Org,
    ) -> Result<Budgets, MappingError> {
        let source = Source { path: file.display().to_string(), text };
        let spec: BudgetsSpec = source.parse()?;
        let default_currency = spec.currency.as_ref().map(|c| (c.get_ref().clone(), source.line(c.span().start)));
        let mut budgets: Vec<Budget> = Vec::new();
        for entry in spec.budgets {
            let owner = entry.owner.get_ref().clone();
            let line = source.line(entry.owner.span().start);
            if !org.is_node(&owner) {
                return Err(source.error_at(
                    entry.owner.span().start,
                    format!("budget for `{owner}`: no such team or org node in org.toml"),
                ));
            }
            let (currency, currency_line) = match (&entry.currency, &default_currency) {
                (Some(c), _) => (c.get_ref().clone(), source.line(c.span().start)),
                (None, Some(default)) => default.clone(),
                (None, None) => {
                    return Err(MappingError::new(
                        &source.path,
                        Some(line),
                        format!(
                            "budget for `{owner}`: no currency (set `currency = \"USD\"` at the top or in the entry)"
                        ),
                    ));
                }
            };
            let negative = |amount: &Spanned<Money>| -> Result<i128, MappingError> {
                let value = amount.get_ref().0;
                if value < 0 {
                    return Err(source.error_at(
                        amount.span().start,
                        format!("budget for `{owner}`: negative amount {}", money::format(value, money::SCALE as u32)),
                    ));
                }
                Ok(value)
            };
            let monthly = entry.monthly.as_ref().map(negative).transpose()?;
            let mut months = BTreeMap::new();
            for (month, amount) in &entry.months {
                let parsed = Month::parse(month.get_ref()).ok_or_else(|| {
                    source.error_at(
                        month.span().start,
                        format!("budget for `{owner}`: {:?} is not a month like \"2026-08\"", month.get_ref()),
                    )
                })?;
                months.insert(parsed, negative(amount)?);
            }
            if monthly.is_none() && months.is_empty() {
                return Err(MappingError::new(
                    &source.path,
                    Some(line),
                    format!("budget for `{owner}`: give `monthly` or `months`"),
                ));
            }
            if monthly.is_none() && (entry.from.is_some() || entry.until.is_some()) {
                return Err(MappingError::new(
                    &source.path,
                    Some(line),
                    format!("budget for `{owner}`: `from`/`until` need `monthly`"),
                ));
            }
            if let (Some(from), Some(until)) = (entry.from, entry.until)
                && from >= until
            {
                return Err(MappingError::new(
                    &source.path,
                    Some(line),
                    format!("budget for `{owner}`: from {from} is not before until {until} (until is exclusive)"),
                ));
            }
            let budget = Budget {
                owner: owner.clone(),
                line,
                currency,
                currency_line,
                cost: entry.cost.or(spec.cost).unwrap_or_default(),
                tolerance: entry.tolerance.or(spec.tolerance).unwrap_or(Percent(20_000)),
                monthly,
                from: entry.from,
                until: entry.until,
                months,
            };
            if let Some(earlier) = budgets.iter().find(|b| b.owner == owner)
                && let Some(when) = earlier.covers_any_of(&budget)
            {
                return Err(MappingError::new(
                    &source.path,
                    Some(line),
                    format!("budget for `{owner}` overlaps the one on line {} ({when})", earlier.line),
                ));
            }
            budgets.push(budget);
        }

        let mut approvals = Vec::new();
        if let Some(text) = approvals_text {
            let source = Source { path: approvals_file.display().to_string(), text };
            let spec: ApprovalsSpec = source.parse()?;
            for entry in spec.approvals {
                let owner = entry.owner.get_ref().clone();
                let at = entry.owner.span().start;
                let line = source.line(at);
                if !org.is_node(&owner) {
                    return Err(
                        source.error_at(at, format!("approval for `{owner}`: no such team or org node in org.toml"))
                    );
                }
                let month = *entry.month.get_ref();
                if !budgets.iter().any(|b| b.owner == owner && b.amount(month).is_some()) {
                    return Err(source.error_at(
                        entry.month.span().start,
                        format!(
                            "approval for `{owner}` in {month}: {owner} has no budget for {month} in {BUDGETS_FILE}"
                        ),
                    ));
                }
                let amount = entry.amount.as_ref().map(|a| (a.get_ref().0, a.span().start));
                if amount.is_some() == entry.percent.is_some() {
                    return Err(source.error_at(
                        at,
                        format!("approval for `{owner}` in {month}: give exactly one of `amount` and `percent`"),
                    ));
                }
                if let Some((value, offset)) = amount
                    && value < 0
                {
                    return Err(source.error_at(
                        offset,
                        format!(
                            "approval for `{owner}` in {month}: negative amount {}",
                            money::format(value, money::SCALE as u32)
                        ),
                    ));
                }
                if entry.approver.trim().is_empty() || entry.reason.trim().is_empty() {
                    return Err(source.error_at(
                        at,
                        format!("approval for `{owner}` in {month}: `approver` and `reason` must not be empty"),
                    ));
                }
                approvals.push(Approval {
                    owner,
                    month,
                    amount: amount.map(|(v, _)| v),
                    percent: entry.percent,
                    approver: entry.approver,
                    reason: entry.reason,
                    expires: entry.expires,
                    line,
                });
            }
        }
        Ok(Budgets { file: file.to_path_buf(), budgets, approvals, approvals_file: approvals_file.to_path_buf() })
    }

    /// Every budget currency must be one the lake's attributed spend is in.
    pub fn check_currencies(&self, currencies: &[String]) -> Result<(), MappingError> {
        for budget in &self.budgets {
            if !currencies.contains(&budget.currency) {
                let have = if currencies.is_empty() { "none".to_string() } else { currencies.join(", ") };
                return Err(MappingError::new(
                    self.file.display().to_string(),
                    Some(budget.currency_line),
                    format!(
                        "budget for `{}`: currency {} is not in the data (attributed spend is in {have})",
                        budget.owner, budget.currency
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The budgets that apply in `month`, with their amounts.
    pub fn for_month(&self, month: Month) -> Vec<(&Budget, i128)> {
        self.budgets.iter().filter_map(|b| b.amount(month).map(|a| (b, a))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::mappings::{Mappings, OrgFile};

    fn org() -> Org {
        let org: OrgFile = toml::from_str("[nodes]\nacme = {}\n[teams.a]\nparent = \"acme\"\n").unwrap();
        let mappings = Mappings {
            dir: PathBuf::from("m"),
            org,
            rules: Default::default(),
            pools: Default::default(),
            sources: Default::default(),
        };
        Org::compile(&mappings).unwrap()
    }

    fn parse(text: &str) -> Result<Budgets, String> {
        Budgets::parse(Path::new("b.toml"), text, Path::new("a.toml"), None, &org()).map_err(|e| e.to_string())
    }

    #[test]
    fn until_is_exclusive_so_adjacent_ranges_do_not_overlap() {
        let text = "currency = \"USD\"\n[[budget]]\nowner = \"a\"\nmonthly = 1\nuntil = \"2026-10\"\n\
                    [[budget]]\nowner = \"a\"\nmonthly = \"2.5\"\nfrom = \"2026-10\"\n";
        let budgets = parse(text).unwrap();
        let amounts: Vec<i128> =
            ["2026-09", "2026-10"].iter().map(|m| budgets.for_month(Month::parse(m).unwrap())[0].1).collect();
        assert_eq!(amounts, vec![10i128.pow(20), 25 * 10i128.pow(19)]);
        let overlapping = text.replace("from = \"2026-10\"", "from = \"2026-09\"");
        assert_eq!(
            parse(&overlapping).unwrap_err(),
            "b.toml:7: budget for `a` overlaps the one on line 3 (from 2026-09)"
        );
        let month_in_range =
            text.replace("from = \"2026-10\"", "months = { \"2026-03\" = 1 }").replace("monthly = \"2.5\"\n", "");
        assert_eq!(
            parse(&month_in_range).unwrap_err(),
            "b.toml:7: budget for `a` overlaps the one on line 3 (2026-03)"
        );
    }

    #[test]
    fn percentages_are_exact() {
        let text =
            |t: &str| format!("currency = \"USD\"\ntolerance = \"{t}\"\n[[budget]]\nowner = \"a\"\nmonthly = 1\n");
        assert_eq!(parse(&text("2.5%")).unwrap().budgets[0].tolerance, Percent(25_000));
        assert_eq!(Percent(25_000).of(200 * 10i128.pow(20)), 5 * 10i128.pow(20));
        assert!(parse(&text("0.00001%")).unwrap_err().contains("at most 4 decimals"));
        assert!(parse(&text("-1%")).unwrap_err().contains("cannot be negative"));
    }
}
