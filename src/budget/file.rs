//! `budgets.toml` and `approvals.toml` in the mappings folder: parsed,
//! validated against the org, and resolved per month.
//!
//! Amounts are exact (strings or integers, never TOML floats), percentages
//! have at most 4 decimals, months are `"YYYY-MM"` and `until` is exclusive,
//! as for rules. Every error names the file and the line of the value at fault.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use crate::attribute::mappings::{MappingError, day, line_at, parse_toml};
use crate::attribute::org::Org;
use crate::calendar::Month;
use crate::money::{self, Money, Percent};

pub const BUDGETS_FILE: &str = "budgets.toml";
pub const APPROVALS_FILE: &str = "approvals.toml";

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
            currency: None,
            clusters: None,
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
