//! `findings.toml` (thresholds and effort per kind) and `initiatives.toml`
//! (what teams shipped and what it should save), both optional, in the
//! mappings folder. Amounts are strings or integers (never TOML floats),
//! percentages `"20%"`. Every error names the file and the line at fault.
//!
//! ```toml
//! # findings.toml: every key optional; these are the defaults.
//! [effort]                       # dev-days to act on one finding of each kind
//! anomaly = "1"
//! orphan = "0.5"
//! idle = "1"
//! commitment = "2"
//! storage_tiering = "2"
//! realized_savings = "0"
//! [bar]                          # "1 dev-week per $10K/month"
//! dev_days = "5"
//! monthly_savings = "10000"
//! [anomaly]
//! history_days = 28              # days of history the expected level is taken from
//! min_history_days = 14
//! sensitivity = "4"              # robust standard deviations (1.4826 x MAD) above expected
//! min_excess_share = "20%"       # of the expected daily level
//! min_daily_excess = "10"
//! min_total_excess = "100"       # smaller anomalies are not reported
//! [orphan]
//! min_monthly_cost = "1"
//! [idle]
//! snapshot_age_days = 60
//! min_monthly_cost = "1"
//! [commitment]
//! target_coverage = "80%"
//! assumed_discount = "28%"       # when the data has no covered usage to measure it
//! min_monthly_savings = "1"
//! [storage_tiering]
//! max_requests_per_gb_month = "10"
//! min_gb_months = "100"
//! [realized]
//! baseline_days = 28
//! min_days_after = 7
//! verified_share = "50%"         # of the expected savings, at the low end of the band
//! ```
//!
//! ```toml
//! # initiatives.toml
//! [[initiative]]
//! team = "search"
//! title = "Retire the old search cluster"
//! shipped = 2026-10-10            # or "2026-10-10"
//! expected_monthly_savings = "600"
//! services = ["Amazon Elastic Compute Cloud"]   # scope, all optional: ServiceName,
//! accounts = ["729104638251"]                   # SubAccountId,
//! tags = { env = "prod" }                       # tags of the line items, matched as rules match them
//! metric = "searches"                           # normalise by this business metric
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use super::Kind;
use crate::attribute::mappings::{MappingError, day, line_at, parse_toml};
use crate::attribute::org::Org;
use crate::money::ONE;
use crate::money::{Money, PERCENT_WHOLE, Percent};

pub const FINDINGS_FILE: &str = "findings.toml";
pub const INITIATIVES_FILE: &str = "initiatives.toml";

/// A positive decimal like effort in dev-days or a sensitivity: `"0.5"` or `2`.
type Number = Money;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FindingsFile {
    #[serde(default)]
    effort: BTreeMap<String, Spanned<Number>>,
    #[serde(default)]
    bar: BarFile,
    #[serde(default)]
    anomaly: AnomalyFile,
    #[serde(default)]
    orphan: MinCost,
    #[serde(default)]
    idle: IdleFile,
    #[serde(default)]
    commitment: CommitmentFile,
    #[serde(default)]
    storage_tiering: TieringFile,
    #[serde(default)]
    realized: RealizedFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BarFile {
    dev_days: Option<Number>,
    monthly_savings: Option<Money>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnomalyFile {
    history_days: Option<u32>,
    min_history_days: Option<u32>,
    sensitivity: Option<Number>,
    min_excess_share: Option<Percent>,
    min_daily_excess: Option<Money>,
    min_total_excess: Option<Money>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MinCost {
    min_monthly_cost: Option<Money>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdleFile {
    snapshot_age_days: Option<u32>,
    min_monthly_cost: Option<Money>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitmentFile {
    target_coverage: Option<Percent>,
    assumed_discount: Option<Percent>,
    min_monthly_savings: Option<Money>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TieringFile {
    max_requests_per_gb_month: Option<Number>,
    min_gb_months: Option<Number>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RealizedFile {
    baseline_days: Option<u32>,
    min_days_after: Option<u32>,
    verified_share: Option<Percent>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InitiativesFile {
    #[serde(default)]
    initiative: Vec<Spanned<InitiativeSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InitiativeSpec {
    team: Spanned<String>,
    title: String,
    #[serde(deserialize_with = "day")]
    shipped: NaiveDate,
    expected_monthly_savings: Money,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    metric: Option<String>,
}

/// An initiative: what a team shipped and what it should save per month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initiative {
    pub team: String,
    pub title: String,
    pub shipped: NaiveDate,
    pub expected_monthly_savings: i128,
    pub services: Vec<String>,
    pub accounts: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub metric: Option<String>,
    /// `initiatives.toml:LINE`, for messages.
    pub location: String,
}

/// Thresholds and efforts, at [`super::SCALE`] for amounts; percentages as
/// fractions of [`PERCENT_WHOLE`].
#[derive(Debug, Clone)]
pub struct Config {
    pub effort: BTreeMap<Kind, i128>,
    pub bar_dev_days: i128,
    pub bar_monthly_savings: i128,
    pub anomaly_history_days: u32,
    pub anomaly_min_history_days: u32,
    pub anomaly_sensitivity: i128,
    pub anomaly_min_excess_share: i128,
    pub anomaly_min_daily_excess: i128,
    pub anomaly_min_total_excess: i128,
    pub orphan_min_monthly_cost: i128,
    pub snapshot_age_days: u32,
    pub idle_min_monthly_cost: i128,
    pub target_coverage: i128,
    pub assumed_discount: i128,
    pub commitment_min_monthly_savings: i128,
    pub max_requests_per_gb_month: i128,
    pub min_gb_months: i128,
    pub baseline_days: u32,
    pub min_days_after: u32,
    pub verified_share: i128,
    pub initiatives: Vec<Initiative>,
}

impl Default for Config {
    fn default() -> Self {
        let effort = [
            (Kind::Anomaly, ONE),
            (Kind::Orphan, ONE / 2),
            (Kind::Idle, ONE),
            (Kind::Commitment, 2 * ONE),
            (Kind::StorageTiering, 2 * ONE),
            (Kind::RealizedSavings, 0),
        ]
        .into_iter()
        .collect();
        Config {
            effort,
            bar_dev_days: 5 * ONE,
            bar_monthly_savings: 10_000 * ONE,
            anomaly_history_days: 28,
            anomaly_min_history_days: 14,
            anomaly_sensitivity: 4 * ONE,
            anomaly_min_excess_share: 200_000,
            anomaly_min_daily_excess: 10 * ONE,
            anomaly_min_total_excess: 100 * ONE,
            orphan_min_monthly_cost: ONE,
            snapshot_age_days: 60,
            idle_min_monthly_cost: ONE,
            target_coverage: 800_000,
            assumed_discount: 280_000,
            commitment_min_monthly_savings: ONE,
            max_requests_per_gb_month: 10 * ONE,
            min_gb_months: 100 * ONE,
            baseline_days: 28,
            min_days_after: 7,
            verified_share: 500_000,
            initiatives: Vec::new(),
        }
    }
}

impl Config {
    pub fn effort(&self, kind: Kind) -> i128 {
        self.effort.get(&kind).copied().unwrap_or(ONE)
    }

    /// Monthly savings per dev-day that meets the bar ($2,000 by default).
    pub fn bar_per_dev_day(&self) -> i128 {
        crate::money::div(self.bar_monthly_savings, self.bar_dev_days)
    }
}

/// `value * percent`, for a [`Percent`] fraction of [`PERCENT_WHOLE`].
pub fn share(value: i128, percent: i128) -> i128 {
    crate::money::div_round(value * percent, PERCENT_WHOLE)
}

/// Reads `findings.toml` and `initiatives.toml` from the mappings folder; each is optional.
pub fn load(mappings: &Path, org: &Org) -> Result<Config, MappingError> {
    let mut config = Config::default();
    let path = mappings.join(FINDINGS_FILE);
    if path.exists() {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| MappingError::new(&name, None, e.to_string()))?;
        let file: FindingsFile = parse_toml(&name, &text)?;
        for (kind, value) in &file.effort {
            let line = Some(line_at(&text, value.span().start));
            let kind = Kind::parse(kind).ok_or_else(|| {
                MappingError::new(&name, line, format!("effort: unknown kind {kind:?} (anomaly, orphan, idle, commitment, storage_tiering, realized_savings)"))
            })?;
            if value.get_ref().0 < 0 {
                return Err(MappingError::new(&name, line, "effort cannot be negative"));
            }
            config.effort.insert(kind, value.get_ref().0);
        }
        let set = |target: &mut i128, value: Option<Money>| {
            if let Some(v) = value {
                *target = v.0;
            }
        };
        let pct = |target: &mut i128, value: Option<Percent>| {
            if let Some(v) = value {
                *target = v.0;
            }
        };
        set(&mut config.bar_dev_days, file.bar.dev_days);
        set(&mut config.bar_monthly_savings, file.bar.monthly_savings);
        if config.bar_dev_days <= 0 {
            let line = text.find("dev_days").map(|o| line_at(&text, o));
            return Err(MappingError::new(&name, line, "bar.dev_days must be more than 0"));
        }
        let a = file.anomaly;
        config.anomaly_history_days = a.history_days.unwrap_or(config.anomaly_history_days);
        config.anomaly_min_history_days = a.min_history_days.unwrap_or(config.anomaly_min_history_days);
        if config.anomaly_history_days < 7 || config.anomaly_min_history_days < 7 {
            let line = text.find("history_days").map(|o| line_at(&text, o));
            return Err(MappingError::new(&name, line, "anomaly history needs at least 7 days (one of each weekday)"));
        }
        set(&mut config.anomaly_sensitivity, a.sensitivity);
        pct(&mut config.anomaly_min_excess_share, a.min_excess_share);
        set(&mut config.anomaly_min_daily_excess, a.min_daily_excess);
        set(&mut config.anomaly_min_total_excess, a.min_total_excess);
        set(&mut config.orphan_min_monthly_cost, file.orphan.min_monthly_cost);
        config.snapshot_age_days = file.idle.snapshot_age_days.unwrap_or(config.snapshot_age_days);
        set(&mut config.idle_min_monthly_cost, file.idle.min_monthly_cost);
        pct(&mut config.target_coverage, file.commitment.target_coverage);
        pct(&mut config.assumed_discount, file.commitment.assumed_discount);
        set(&mut config.commitment_min_monthly_savings, file.commitment.min_monthly_savings);
        set(&mut config.max_requests_per_gb_month, file.storage_tiering.max_requests_per_gb_month);
        set(&mut config.min_gb_months, file.storage_tiering.min_gb_months);
        config.baseline_days = file.realized.baseline_days.unwrap_or(config.baseline_days).max(1);
        config.min_days_after = file.realized.min_days_after.unwrap_or(config.min_days_after).max(1);
        pct(&mut config.verified_share, file.realized.verified_share);
    }
    let path = mappings.join(INITIATIVES_FILE);
    if path.exists() {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| MappingError::new(&name, None, e.to_string()))?;
        let file: InitiativesFile = parse_toml(&name, &text)?;
        for spanned in file.initiative {
            let line = line_at(&text, spanned.span().start);
            let spec = spanned.into_inner();
            let team_line = Some(line_at(&text, spec.team.span().start));
            let team = spec.team.into_inner();
            if !org.is_team(&team) {
                return Err(MappingError::new(
                    &name,
                    team_line,
                    format!("initiative team {team:?} is not a team of org.toml"),
                ));
            }
            if spec.title.trim().is_empty() {
                return Err(MappingError::new(&name, Some(line), "initiative title is empty"));
            }
            config.initiatives.push(Initiative {
                team,
                title: spec.title,
                shipped: spec.shipped,
                expected_monthly_savings: spec.expected_monthly_savings.0,
                services: spec.services,
                accounts: spec.accounts,
                tags: spec.tags,
                metric: spec.metric,
                location: format!("{INITIATIVES_FILE}:{line}"),
            });
        }
    }
    Ok(config)
}
