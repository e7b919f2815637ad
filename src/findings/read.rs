//! What reports and nudges read back about a team's findings and unowned spend: the
//! `findings` table's rows (the latest per finding), and unallocated spend in accounts
//! whose allocated spend is mostly one team's. One reader each, so a team's page and
//! its nudge tell the same figures.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Int64Type};
use datafusion::prelude::SessionContext;

use crate::calendar::Month;
use crate::money::{PRECISION, SCALE};

const UNALLOCATED_SQL: &str = include_str!("../../queries/nudge_unallocated.sql");
const FINDINGS_SQL: &str = include_str!("../../queries/nudge_findings.sql");

/// Unallocated spend in an account whose allocated spend is mostly one team's.
#[derive(Debug, Clone)]
pub struct Unallocated {
    pub team: String,
    pub account: String,
    pub currency: String,
    pub amount: i128,
    pub resources: i64,
    pub line_items: i64,
}

/// A row of the `findings` table, as far as reports and nudges need it.
#[derive(Debug, Clone)]
pub struct Finding {
    pub finding_id: String,
    pub kind: String,
    pub billing_period: String,
    pub team: String,
    pub title: String,
    pub currency: String,
    pub monthly_savings: Option<i128>,
    /// Dev-days in hundredths.
    pub effort_centidays: Option<i128>,
    pub status: String,
}

fn texts(batch: &datafusion::arrow::record_batch::RecordBatch, i: usize) -> datafusion::error::Result<StringArray> {
    Ok(cast(batch.column(i), &DataType::Utf8)?.as_string::<i32>().clone())
}

fn text(a: &StringArray, i: usize) -> String {
    if a.is_null(i) { String::new() } else { a.value(i).to_string() }
}

pub async fn unallocated(ctx: &SessionContext, as_of: NaiveDate) -> datafusion::error::Result<Vec<Unallocated>> {
    let sql = UNALLOCATED_SQL
        .replace("{period}", &Month::of(as_of).to_string())
        .replace("{as_of}", &as_of.format("%Y-%m-%d").to_string());
    let mut out = Vec::new();
    for batch in crate::lake::sql::query(ctx, &sql).await?.collect().await? {
        let (team, account, currency) = (texts(&batch, 0)?, texts(&batch, 1)?, texts(&batch, 2)?);
        let amount = cast(batch.column(3), &DataType::Decimal128(PRECISION, SCALE))?;
        let amount = amount.as_primitive::<Decimal128Type>();
        let resources = cast(batch.column(4), &DataType::Int64)?;
        let lines = cast(batch.column(5), &DataType::Int64)?;
        for i in 0..batch.num_rows() {
            out.push(Unallocated {
                team: text(&team, i),
                account: text(&account, i),
                currency: text(&currency, i),
                amount: amount.value(i),
                resources: resources.as_primitive::<Int64Type>().value(i),
                line_items: lines.as_primitive::<Int64Type>().value(i),
            });
        }
    }
    Ok(out)
}

/// The findings table's rows for the as-of month or before, the latest per finding;
/// none when the lake has no findings table.
pub async fn findings(ctx: &SessionContext, as_of: NaiveDate) -> datafusion::error::Result<Vec<Finding>> {
    if !ctx.table_exist(crate::lake::FINDINGS)? {
        return Ok(Vec::new());
    }
    let sql = FINDINGS_SQL.replace("{period}", &Month::of(as_of).to_string());
    let mut latest: BTreeMap<String, Finding> = BTreeMap::new();
    for batch in crate::lake::sql::query(ctx, &sql).await?.collect().await? {
        let columns: Vec<StringArray> = (0..9).map(|i| texts(&batch, i)).collect::<Result<_, _>>()?;
        let savings = cast(batch.column(6), &DataType::Decimal128(PRECISION, SCALE))?;
        let savings = savings.as_primitive::<Decimal128Type>();
        for i in 0..batch.num_rows() {
            let effort = crate::money::parse_with_scale(&text(&columns[7], i), 2).ok().map(|p| p.value);
            let finding = Finding {
                finding_id: text(&columns[0], i),
                kind: text(&columns[1], i),
                billing_period: text(&columns[2], i),
                team: text(&columns[3], i),
                title: text(&columns[4], i),
                currency: text(&columns[5], i),
                monthly_savings: (!savings.is_null(i)).then(|| savings.value(i)),
                effort_centidays: effort.filter(|_| !columns[7].is_null(i)),
                status: text(&columns[8], i),
            };
            latest.insert(finding.finding_id.clone(), finding);
        }
    }
    Ok(latest.into_values().collect())
}
