//! Reconciliation to the invoice: per invoice of the FOCUS Invoice Detail
//! dataset, the invoice's BilledCost against the BilledCost of the line
//! items that name it (`queries/invoice_reconciliation.sql`, also the
//! `invoice_reconciliation` view of `tally sql`). Shown after every ingest
//! for the billing periods it wrote; a mismatch names the invoice and the
//! difference. It reports rather than refuses: the lake holds what the
//! provider delivered, and a difference is for finance to chase.

use std::collections::BTreeSet;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Int64Type};

use super::{IngestError, lake_error};
use crate::lake::Lake;
use crate::lake::log::IngestRecord;
use crate::money;

/// One invoice's reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceCheck {
    pub invoice_issuer: String,
    pub invoice_id: String,
    pub currency: String,
    pub billing_period: String,
    pub invoice_billed: i128,
    pub line_items: u64,
    pub line_items_billed: i128,
    /// Line items minus invoice.
    pub difference: i128,
    /// `ok`, `mismatch` or `no line items`.
    pub status: String,
}

impl InvoiceCheck {
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// The invoices of the billing periods `files` wrote (line items or invoice
/// details), when the lake holds the Invoice Detail dataset.
pub async fn check(lake: &Lake, files: &[IngestRecord]) -> Result<Vec<InvoiceCheck>, IngestError> {
    let periods: BTreeSet<&str> =
        files.iter().flat_map(|f| f.billing_periods.split(',')).filter(|p| !p.is_empty()).collect();
    if periods.is_empty() {
        return Ok(Vec::new());
    }
    let failed = |e: datafusion::error::DataFusionError| lake_error(lake.root())(std::io::Error::other(e));
    let ctx = lake.session().await.map_err(failed)?;
    if !ctx.table_exist("invoice_reconciliation").map_err(failed)? {
        return Ok(Vec::new());
    }
    let frame = crate::lake::sql::query(&ctx, "SELECT * FROM invoice_reconciliation").await.map_err(failed)?;
    let mut checks = Vec::new();
    for batch in frame.collect().await.map_err(failed)? {
        let text = |name: &str| -> datafusion::error::Result<Vec<String>> {
            let column = cast(batch.column_by_name(name).expect("view column"), &DataType::Utf8)?;
            let column = column.as_string::<i32>();
            Ok((0..column.len())
                .map(|i| if column.is_null(i) { String::new() } else { column.value(i).to_string() })
                .collect())
        };
        let money_column = |name: &str| -> datafusion::error::Result<Vec<i128>> {
            let target = DataType::Decimal128(money::PRECISION, money::SCALE);
            let column = cast(batch.column_by_name(name).expect("view column"), &target)?;
            let column = column.as_primitive::<Decimal128Type>();
            Ok((0..column.len()).map(|i| if column.is_null(i) { 0 } else { column.value(i) }).collect())
        };
        let count = cast(batch.column_by_name("line_items").expect("view column"), &DataType::Int64)
            .map_err(|e| failed(e.into()))?;
        let count = count.as_primitive::<Int64Type>();
        let (issuer, id, currency, period, status) = (
            text("invoice_issuer").map_err(failed)?,
            text("invoice_id").map_err(failed)?,
            text("currency").map_err(failed)?,
            text("billing_period").map_err(failed)?,
            text("status").map_err(failed)?,
        );
        let (invoice, billed, difference) = (
            money_column("invoice_billed").map_err(failed)?,
            money_column("line_items_billed").map_err(failed)?,
            money_column("difference").map_err(failed)?,
        );
        for i in 0..batch.num_rows() {
            if !periods.contains(period[i].as_str()) {
                continue;
            }
            checks.push(InvoiceCheck {
                invoice_issuer: issuer[i].clone(),
                invoice_id: id[i].clone(),
                currency: currency[i].clone(),
                billing_period: period[i].clone(),
                invoice_billed: invoice[i],
                line_items: count.value(i) as u64,
                line_items_billed: billed[i],
                difference: difference[i],
                status: status[i].clone(),
            });
        }
    }
    // The view's ORDER BY does not survive a scan of several partitions.
    checks.sort_by(|a, b| {
        (&a.billing_period, &a.invoice_issuer, &a.invoice_id, &a.currency).cmp(&(
            &b.billing_period,
            &b.invoice_issuer,
            &b.invoice_id,
            &b.currency,
        ))
    });
    Ok(checks)
}
