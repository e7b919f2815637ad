//! Efficiency findings: what a team should do, and what it already saved.
//!
//! Every finding lands in the lake's `findings` table, one row per finding, with
//! a `kind` column. Reports and nudges read that table, never the code that
//! computed it, so the table below is the contract between them:
//!
//! | column | meaning |
//! |---|---|
//! | `finding_id` | stable across runs for the same finding: a hash of kind and its key (team, resource, start date...) |
//! | `kind` | `anomaly`, `orphan`, `idle`, `commitment`, `storage_tiering`, `realized_savings` |
//! | `billing_period` | the month (`YYYY-MM`) the finding was measured in |
//! | `team`, `org_path` | the owner, or the likely owner (from account or naming) for orphans |
//! | `provider`, `SubAccountId`, `ServiceName`, `ResourceId` | where it is; empty when it does not apply |
//! | `start_date` | when it began (an anomaly's first day; the first day the data bills an idle resource or shows an orphan unowned), or when an initiative shipped |
//! | `title` | one line in plain words, safe to show as text |
//! | `detail` | the evidence and the assumptions behind any estimate |
//! | `currency` | `BillingCurrency` of the amounts |
//! | `monthly_cost` | what the thing costs per month now |
//! | `monthly_savings` | estimated monthly savings if acted on; for anomalies the excess over expected; for `realized_savings` the savings measured |
//! | `expected_monthly_savings` | `realized_savings` only: what the initiative promised |
//! | `effort_dev_days` | estimated effort to act on it |
//! | `status` | `open`, or for `realized_savings`: `verified` / `not_realized` / `too_early` |
//!
//! Added columns (after those): `subkind` (`idle`: `load_balancer`, `nat_gateway`,
//! `unattached_volume`, `old_snapshot`, `cluster` (a container cluster's idle capacity); `commitment`: `coverage`, `utilization`;
//! `storage_tiering`: the suggested class), `savings_low` / `savings_high` (the 95%
//! band of a measured realized saving), `savings_per_dev_day`, `rank` (1 = the best
//! monthly savings per dev-day among open recommendations; null for anomalies and
//! realized savings) and `meets_bar` (savings per dev-day at least the bar of
//! findings.toml, by default $10,000/month per 5 dev-days).
//!
//! Money columns and `effort_dev_days` are `Decimal128(38, 20)` like the rest of
//! the lake. "Monthly" is 30 days: costs of the 30 days ending on the "as of"
//! day (fewer scaled up), the data's last charge day unless given. The table is
//! replaced whole on each run, rows ordered by kind, then rank / size, then id:
//! the same lake and mappings always give the same bytes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let lake = tally::lake::Lake::new("lake");
//! let mappings = std::sync::Arc::new(tally::attribute::Ownership::load("mappings".as_ref())?);
//! let findings = tally::findings::compute(&lake, &mappings, None, None).await?;
//! tally::findings::save(&lake, &findings)?;
//! # Ok(()) }
//! ```

pub mod anomaly;
pub mod clusters;
pub mod commitments;
pub mod config;
mod query;
pub mod read;
pub mod realized;
pub mod tiering;
pub mod unused;

use std::path::Path;
use std::sync::{Arc, LazyLock};

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, BooleanArray, Date32Array, Decimal128Array, StringArray, UInt32Array};
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use sha2::{Digest, Sha256};

use crate::attribute::Ownership;
use crate::attribute::mappings::MappingError;
use crate::lake::Lake;
use crate::money::{PRECISION, SCALE, div, div_round};

pub use config::{Config, Initiative};

/// Days in a "month" of findings.
pub const MONTH_DAYS: i128 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Anomaly,
    Orphan,
    Idle,
    Commitment,
    StorageTiering,
    RealizedSavings,
}

impl Kind {
    pub const ALL: [Kind; 6] =
        [Kind::Anomaly, Kind::Orphan, Kind::Idle, Kind::Commitment, Kind::StorageTiering, Kind::RealizedSavings];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Anomaly => "anomaly",
            Kind::Orphan => "orphan",
            Kind::Idle => "idle",
            Kind::Commitment => "commitment",
            Kind::StorageTiering => "storage_tiering",
            Kind::RealizedSavings => "realized_savings",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == text)
    }
}

/// One row of the `findings` table. Money at [`SCALE`] (`ONE` = 1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Finding {
    pub finding_id: String,
    pub kind: Option<Kind>,
    pub subkind: String,
    pub billing_period: String,
    pub team: String,
    pub org_path: String,
    pub provider: String,
    pub sub_account_id: String,
    pub service_name: String,
    pub resource_id: String,
    pub start_date: Option<NaiveDate>,
    pub title: String,
    pub detail: String,
    pub currency: String,
    pub monthly_cost: i128,
    pub monthly_savings: i128,
    pub expected_monthly_savings: Option<i128>,
    pub savings_low: Option<i128>,
    pub savings_high: Option<i128>,
    pub effort_dev_days: i128,
    pub status: String,
    pub savings_per_dev_day: Option<i128>,
    pub rank: Option<u32>,
    pub meets_bar: Option<bool>,
}

impl Finding {
    pub fn kind(&self) -> Kind {
        self.kind.expect("every finding has a kind")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FindingsError {
    #[error("{0}")]
    Mappings(#[from] MappingError),
    #[error("{path}: {source}")]
    Lake { path: String, source: std::io::Error },
    #[error("{0}")]
    Metrics(String),
    #[error("query {query}: {source}")]
    Query { query: &'static str, source: datafusion::error::DataFusionError },
    #[error("{0}")]
    Data(String),
}

/// A stable id: the kind, then 16 hex digits of SHA-256 over the kind and its key parts.
pub fn finding_id(kind: Kind, key: &[&str]) -> String {
    let mut hash = Sha256::new();
    hash.update(kind.name().as_bytes());
    for part in key {
        hash.update([0u8]);
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let hex = crate::hashing::hex(&digest[..8]);
    format!("{}-{hex}", kind.name())
}

/// What every analysis needs: the session, the org, the config and the data's dates.
pub struct Context {
    pub ctx: datafusion::prelude::SessionContext,
    /// The org, and the ownership rules for matching tags the way they do (initiatives scoped by tags).
    pub mappings: Arc<Ownership>,
    pub config: Config,
    /// The data's "as of" day ([`crate::lake::attributed::last_charge_day`] unless given).
    pub as_of: NaiveDate,
    /// The data's first day.
    pub first_day: NaiveDate,
}

impl Context {
    /// First day of the "monthly" window: the last 30 days of data, or all of it when shorter.
    pub fn window_start(&self) -> NaiveDate {
        (self.as_of - chrono::Days::new(MONTH_DAYS as u64 - 1)).max(self.first_day)
    }

    /// Days in the window.
    pub fn window_days(&self) -> i128 {
        i128::from((self.as_of - self.window_start()).num_days() + 1)
    }

    /// Scales a window total to 30 days.
    pub fn monthly(&self, window_total: i128) -> i128 {
        div_round(window_total * MONTH_DAYS, self.window_days())
    }

    pub fn billing_period(&self) -> String {
        self.as_of.format("%Y-%m").to_string()
    }

    /// The team's org path on the as-of day; `unallocated` and unknown names stay as they are.
    pub fn org_path(&self, team: &str) -> String {
        if self.mappings.org.is_team(team) { self.mappings.org.path(team, self.as_of) } else { team.to_string() }
    }
}

/// Computes every finding from the lake's `attributed` and `line_items` tables,
/// the mappings folder (org, `findings.toml`, `initiatives.toml`) and, when given,
/// a business metrics file (CSV or Parquet, see [`crate::metrics`]) that
/// realized savings are normalised by. Returns them ranked and in table order.
/// An empty lake (nothing attributed) gives no findings.
pub async fn compute(
    lake: &Lake,
    mappings: &Arc<Ownership>,
    metrics: Option<&Path>,
    as_of: Option<NaiveDate>,
) -> Result<Vec<Finding>, FindingsError> {
    let config = config::load(&mappings.mappings.dir, &mappings.org)?;
    let ctx = mappings.session(lake).await.map_err(|source| FindingsError::Query { query: "session", source })?;
    if let Some(path) = metrics {
        crate::metrics::register(&ctx, path).map_err(|e| FindingsError::Metrics(format!("{e:#}")))?;
    }
    if !ctx.table_exist(crate::lake::ATTRIBUTED).unwrap_or(false) {
        return Ok(Vec::new());
    }
    let Some(first_day) = query::first_usage_day(&ctx).await? else {
        return Ok(Vec::new());
    };
    let as_of = match as_of {
        Some(day) => day,
        None => match crate::lake::attributed::last_charge_day(&ctx)
            .await
            .map_err(|source| FindingsError::Query { query: "as of", source })?
        {
            Some(day) => day,
            None => return Ok(Vec::new()),
        },
    };
    let cx = Context { ctx, mappings: mappings.clone(), config, as_of, first_day };
    let mut findings = Vec::new();
    findings.extend(anomaly::find(&cx).await?);
    findings.extend(unused::orphans(&cx).await?);
    findings.extend(unused::idle(&cx).await?);
    findings.extend(clusters::find(&cx).await?);
    findings.extend(commitments::find(&cx).await?);
    findings.extend(tiering::find(&cx).await?);
    findings.extend(realized::find(&cx, metrics.is_some()).await?);
    rank(&mut findings, &cx.config);
    Ok(findings)
}

/// Effort per kind, savings per dev-day, the bar, and the rank of open
/// recommendations (anomalies and realized savings are not ranked); then the table order.
pub fn rank(findings: &mut [Finding], config: &Config) {
    for f in findings.iter_mut() {
        f.effort_dev_days = config.effort(f.kind());
        let ranked = !matches!(f.kind(), Kind::Anomaly | Kind::RealizedSavings) && f.monthly_savings > 0;
        if ranked {
            let per_day =
                if f.effort_dev_days > 0 { div(f.monthly_savings, f.effort_dev_days) } else { f.monthly_savings };
            f.savings_per_dev_day = Some(per_day);
            f.meets_bar = Some(per_day >= config.bar_per_dev_day());
        }
    }
    let mut order: Vec<usize> = (0..findings.len()).filter(|&i| findings[i].savings_per_dev_day.is_some()).collect();
    order.sort_by(|&a, &b| {
        (findings[b].savings_per_dev_day, &findings[a].finding_id)
            .cmp(&(findings[a].savings_per_dev_day, &findings[b].finding_id))
    });
    for (n, i) in order.into_iter().enumerate() {
        findings[i].rank = Some(n as u32 + 1);
    }
    findings.sort_by(|a, b| {
        let key = |f: &Finding| (f.kind(), f.rank.unwrap_or(u32::MAX), std::cmp::Reverse(f.monthly_savings));
        key(a).cmp(&key(b)).then_with(|| a.finding_id.cmp(&b.finding_id))
    });
}

pub static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let money = || DataType::Decimal128(PRECISION, SCALE);
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        text("finding_id"),
        text("kind"),
        text("billing_period"),
        text("team"),
        text("org_path"),
        text("provider"),
        text("SubAccountId"),
        text("ServiceName"),
        text("ResourceId"),
        Field::new("start_date", DataType::Date32, true),
        text("title"),
        text("detail"),
        text("currency"),
        Field::new("monthly_cost", money(), false),
        Field::new("monthly_savings", money(), false),
        Field::new("expected_monthly_savings", money(), true),
        Field::new("effort_dev_days", money(), false),
        text("status"),
        text("subkind"),
        Field::new("savings_low", money(), true),
        Field::new("savings_high", money(), true),
        Field::new("savings_per_dev_day", money(), true),
        Field::new("rank", DataType::UInt32, true),
        Field::new("meets_bar", DataType::Boolean, true),
    ]))
});

/// The findings as one batch of [`SCHEMA`].
pub fn to_batch(findings: &[Finding]) -> RecordBatch {
    let text =
        |f: &dyn Fn(&Finding) -> &str| Arc::new(StringArray::from_iter_values(findings.iter().map(f))) as ArrayRef;
    let money = |f: &dyn Fn(&Finding) -> Option<i128>| {
        Arc::new(
            Decimal128Array::from_iter(findings.iter().map(f))
                .with_precision_and_scale(PRECISION, SCALE)
                .expect("valid"),
        ) as ArrayRef
    };
    let columns: Vec<ArrayRef> = vec![
        text(&|f| &f.finding_id),
        text(&|f| f.kind().name()),
        text(&|f| &f.billing_period),
        text(&|f| &f.team),
        text(&|f| &f.org_path),
        text(&|f| &f.provider),
        text(&|f| &f.sub_account_id),
        text(&|f| &f.service_name),
        text(&|f| &f.resource_id),
        Arc::new(Date32Array::from_iter(findings.iter().map(|f| f.start_date.map(Date32Type::from_naive_date)))),
        text(&|f| &f.title),
        text(&|f| &f.detail),
        text(&|f| &f.currency),
        money(&|f| Some(f.monthly_cost)),
        money(&|f| Some(f.monthly_savings)),
        money(&|f| f.expected_monthly_savings),
        money(&|f| Some(f.effort_dev_days)),
        text(&|f| &f.status),
        text(&|f| &f.subkind),
        money(&|f| f.savings_low),
        money(&|f| f.savings_high),
        money(&|f| f.savings_per_dev_day),
        Arc::new(UInt32Array::from_iter(findings.iter().map(|f| f.rank))),
        Arc::new(BooleanArray::from_iter(findings.iter().map(|f| f.meets_bar))),
    ];
    RecordBatch::try_new(SCHEMA.clone(), columns).expect("columns match the schema")
}

/// Replaces the lake's `findings` table with these findings: one file,
/// `<lake>/findings/findings.parquet` (a crash leaves the old table). No findings
/// still writes an empty table, so stale ones go.
pub fn save(lake: &Lake, findings: &[Finding]) -> Result<(), FindingsError> {
    lake.replace_sole_file(crate::lake::FINDINGS, &[to_batch(findings)]).map_err(|source| FindingsError::Lake {
        path: lake.table_file(crate::lake::FINDINGS, crate::lake::FINDINGS).display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_keyed() {
        assert_eq!(finding_id(Kind::Idle, &["a", "b"]), finding_id(Kind::Idle, &["a", "b"]));
        assert_ne!(finding_id(Kind::Idle, &["ab", ""]), finding_id(Kind::Idle, &["a", "b"]));
        assert!(finding_id(Kind::Orphan, &["x"]).starts_with("orphan-"));
    }
}
