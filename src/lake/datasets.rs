//! FOCUS's supplementary datasets, each in its own table beside `line_items`:
//! `contract_commitments` (FOCUS 1.3), `invoice_details` and
//! `focus_billing_periods` (FOCUS 1.4). Columns follow the specification's
//! dataset pages (FOCUS 1.3 and 1.4, `specification/datasets/*/dataset.md`);
//! every column is nullable, so a file of an earlier version (or one that
//! leaves a column out) reads as null there.
//!
//! Each is a snapshot the provider re-delivers whole, replaced per unit like
//! line items: invoice details per billing period and billing account, a
//! contract's commitments per contract, billing periods per invoice issuer.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    ArrayRef, Decimal128Builder, StringBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;

use super::line_items::file_safe;
use super::{Lake, writer_properties};
use crate::money;
use crate::schema::Kind;

/// One supplementary dataset's table.
#[derive(Debug)]
pub struct Dataset {
    /// The table's folder and name in SQL.
    pub table: &'static str,
    /// What FOCUS calls it.
    pub title: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    /// The money column whose sum reconciles a file (read = landed + quarantined).
    pub cost: Option<&'static str>,
    /// The columns whose values name a row's unit; a row without them is quarantined.
    pub unit_columns: &'static [&'static str],
}

use Kind::{Decimal, Text, Timestamp};

/// FOCUS 1.3 Contract Commitment (13 columns), and the columns 1.4 adds.
pub const CONTRACT_COMMITMENTS: Dataset = Dataset {
    table: "contract_commitments",
    title: "Contract Commitment",
    columns: &[
        ("BillingCurrency", Text),
        ("ContractCommitmentCategory", Text),
        ("ContractCommitmentCost", Decimal),
        ("ContractCommitmentDescription", Text),
        ("ContractCommitmentId", Text),
        ("ContractCommitmentPeriodEnd", Timestamp),
        ("ContractCommitmentPeriodStart", Timestamp),
        ("ContractCommitmentQuantity", Kind::Quantity),
        ("ContractCommitmentType", Text),
        ("ContractCommitmentUnit", Text),
        ("ContractId", Text),
        ("ContractPeriodEnd", Timestamp),
        ("ContractPeriodStart", Timestamp),
        // FOCUS 1.4.
        ("ContractCommitmentApplicability", Text),
        ("ContractCommitmentBenefitCategory", Text),
        ("ContractCommitmentCreated", Timestamp),
        ("ContractCommitmentDiscountPercentage", Decimal),
        ("ContractCommitmentDurationType", Text),
        ("ContractCommitmentFulfillmentInterval", Text),
        ("ContractCommitmentLastUpdated", Timestamp),
        ("ContractCommitmentLifecycleStatus", Text),
        ("ContractCommitmentModel", Text),
        ("ContractCommitmentOfferCategory", Text),
        ("ContractCommitmentPaymentInterval", Text),
        ("ContractCommitmentPaymentModel", Text),
        ("ContractCommitmentPaymentUpfrontPercentage", Decimal),
        ("InvoiceIssuerName", Text),
        ("PricingCurrency", Text),
        ("PricingCurrencyContractCommitmentCost", Decimal),
        ("ServiceProviderName", Text),
    ],
    cost: Some("ContractCommitmentCost"),
    unit_columns: &["ContractId"],
};

/// FOCUS 1.4 Invoice Detail (22 columns).
pub const INVOICE_DETAILS: Dataset = Dataset {
    table: "invoice_details",
    title: "Invoice Detail",
    columns: &[
        ("BilledCost", Decimal),
        ("BillingAccountId", Text),
        ("BillingCurrency", Text),
        ("BillingPeriodEnd", Timestamp),
        ("BillingPeriodStart", Timestamp),
        ("ChargeCategory", Text),
        ("InvoiceDetailCreated", Timestamp),
        ("InvoiceDetailDescription", Text),
        ("InvoiceDetailGrain", Text),
        ("InvoiceDetailId", Text),
        ("InvoiceDetailLastUpdated", Timestamp),
        ("InvoiceId", Text),
        ("InvoiceIssueDate", Timestamp),
        ("InvoiceIssueStatus", Text),
        ("InvoiceIssuerName", Text),
        ("PaymentCurrency", Text),
        ("PaymentCurrencyBilledCost", Decimal),
        ("PaymentCurrencyInvoiceDetailId", Text),
        ("PaymentDueDate", Timestamp),
        ("PaymentTerms", Text),
        ("PurchaseOrderNumber", Text),
        ("ReferenceInvoiceId", Text),
    ],
    cost: Some("BilledCost"),
    unit_columns: &["BillingPeriodStart", "BillingAccountId"],
};

/// FOCUS 1.4 Billing Period (6 columns).
pub const BILLING_PERIODS: Dataset = Dataset {
    table: "focus_billing_periods",
    title: "Billing Period",
    columns: &[
        ("BillingPeriodCreated", Timestamp),
        ("BillingPeriodEnd", Timestamp),
        ("BillingPeriodLastUpdated", Timestamp),
        ("BillingPeriodStart", Timestamp),
        ("BillingPeriodStatus", Text),
        ("InvoiceIssuerName", Text),
    ],
    cost: None,
    unit_columns: &["InvoiceIssuerName"],
};

pub const ALL: [&Dataset; 3] = [&CONTRACT_COMMITMENTS, &INVOICE_DETAILS, &BILLING_PERIODS];

/// Lineage columns after a dataset's own, as in `line_items`.
pub const LINEAGE: [(&str, Kind); 3] = [("x_SourceFile", Text), ("x_SourceRow", Kind::Count), ("x_IngestRunId", Text)];

impl Dataset {
    pub fn schema(&self) -> SchemaRef {
        static SCHEMAS: LazyLock<Vec<SchemaRef>> = LazyLock::new(|| {
            ALL.iter()
                .map(|d| {
                    let fields = d.columns.iter().chain(&LINEAGE).map(|(n, k)| Field::new(*n, k.data_type(), true));
                    Arc::new(Schema::new(fields.collect::<Vec<_>>()))
                })
                .collect()
        });
        let i = ALL.iter().position(|d| d.table == self.table).expect("a declared dataset");
        SCHEMAS[i].clone()
    }

    /// Hive partition folders of the table (`invoice_details` by billing period).
    pub fn partition_columns(&self) -> &'static [&'static str] {
        if self.table == INVOICE_DETAILS.table { &["billing_period"] } else { &[] }
    }

    /// Where a unit lives, relative to the lake root, from the values of
    /// [`Dataset::unit_columns`] (a billing period as `YYYY-MM`).
    pub fn unit_path(&self, key: &[String]) -> PathBuf {
        let table = PathBuf::from(self.table);
        match key {
            [period, account] => {
                table.join(format!("billing_period={period}")).join(format!("part-{}.parquet", file_safe(account)))
            }
            [one] => table.join(format!("part-{}.parquet", file_safe(one))),
            _ => unreachable!("datasets are keyed by one or two columns"),
        }
    }
}

/// A parsed cell of a dataset row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(Option<String>),
    Number(Option<i128>),
    Timestamp(Option<i64>),
    Count(Option<u64>),
}

/// Rows of supplementary datasets, gathered per unit (they are small: one row
/// per invoice line or commitment), written to staging at the end.
#[derive(Default)]
pub struct StagedDatasets {
    units: BTreeMap<PathBuf, (&'static Dataset, Vec<Vec<Value>>)>,
}

/// A dataset unit file in staging, and where it goes in the lake.
#[derive(Debug, Clone)]
pub struct StagedDataset {
    pub dataset: &'static Dataset,
    pub relative: PathBuf,
    pub staged: PathBuf,
    pub rows: u64,
}

impl StagedDatasets {
    /// Adds a row (the dataset's columns then [`LINEAGE`], in order) to its unit.
    pub fn push(&mut self, dataset: &'static Dataset, key: &[String], row: Vec<Value>) {
        self.units.entry(dataset.unit_path(key)).or_insert_with(|| (dataset, Vec::new())).1.push(row);
    }

    /// Writes every unit under `staging` (synced), in path order.
    pub fn finish(self, staging: &Path) -> std::io::Result<Vec<StagedDataset>> {
        let mut staged = Vec::with_capacity(self.units.len());
        for (relative, (dataset, rows)) in self.units {
            let path = staging.join(&relative);
            fs::create_dir_all(path.parent().expect("a unit path has a parent"))?;
            let batch = to_batch(dataset, &rows).map_err(std::io::Error::other)?;
            let mut writer = ArrowWriter::try_new(File::create(&path)?, dataset.schema(), Some(writer_properties()))
                .map_err(std::io::Error::other)?;
            writer.write(&batch).map_err(std::io::Error::other)?;
            writer.into_inner().map_err(std::io::Error::other)?.sync_all()?;
            staged.push(StagedDataset { dataset, relative, staged: path, rows: rows.len() as u64 });
        }
        Ok(staged)
    }
}

fn to_batch(dataset: &Dataset, rows: &[Vec<Value>]) -> datafusion::error::Result<RecordBatch> {
    let schema = dataset.schema();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().enumerate() {
        let cells = rows.iter().map(|r| &r[i]);
        let array: ArrayRef = match field.data_type() {
            DataType::Utf8 => {
                let mut b = StringBuilder::new();
                cells.for_each(|c| b.append_option(if let Value::Text(t) = c { t.as_deref() } else { None }));
                Arc::new(b.finish())
            }
            DataType::Decimal128(precision, scale) => {
                let mut b = Decimal128Builder::new().with_precision_and_scale(*precision, *scale)?;
                cells.for_each(|c| b.append_option(if let Value::Number(n) = c { *n } else { None }));
                Arc::new(b.finish())
            }
            DataType::Timestamp(..) => {
                let mut b = TimestampMicrosecondBuilder::new().with_timezone("UTC");
                cells.for_each(|c| b.append_option(if let Value::Timestamp(t) = c { *t } else { None }));
                Arc::new(b.finish())
            }
            DataType::UInt64 => {
                let mut b = UInt64Builder::new();
                cells.for_each(|c| b.append_option(if let Value::Count(n) = c { *n } else { None }));
                Arc::new(b.finish())
            }
            other => unreachable!("no dataset column of type {other}"),
        };
        columns.push(array);
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Per source file, what the staged dataset files hold: rows and the sum of
/// the dataset's cost column. Read back from the files, like line items.
pub fn read_back(units: &[StagedDataset]) -> std::io::Result<BTreeMap<String, (u64, i128)>> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Decimal128Type;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let mut landed: BTreeMap<String, (u64, i128)> = BTreeMap::new();
    for unit in units {
        let failed = |e: &dyn std::fmt::Display| std::io::Error::other(format!("{}: {e}", unit.staged.display()));
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&unit.staged)?)
            .and_then(|b| b.build())
            .map_err(|e| failed(&e))?;
        for batch in reader {
            let batch = batch.map_err(|e| failed(&e))?;
            let files = batch.column_by_name("x_SourceFile").expect("lineage column").as_string::<i32>().clone();
            let costs = unit
                .dataset
                .cost
                .and_then(|c| batch.column_by_name(c))
                .map(|c| c.as_primitive::<Decimal128Type>().clone());
            for i in 0..batch.num_rows() {
                let entry = landed.entry(files.value(i).to_string()).or_default();
                entry.0 += 1;
                if let Some(costs) = &costs
                    && costs.is_valid(i)
                {
                    money::add(&mut entry.1, costs.value(i)).map_err(|e| failed(&e))?;
                }
            }
        }
    }
    Ok(landed)
}

/// Moves staged dataset units into the lake, one rename each.
pub fn commit(lake: &Lake, units: &[StagedDataset]) -> std::io::Result<()> {
    units.iter().try_for_each(|u| super::move_into_place(lake, &u.staged, &u.relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_paths() {
        let key = ["2026-05".to_string(), "acct/1".to_string()];
        let path = INVOICE_DETAILS.unit_path(&key);
        assert!(path.starts_with("invoice_details/billing_period=2026-05"), "{}", path.display());
        assert_eq!(
            CONTRACT_COMMITMENTS.unit_path(&["c-1".to_string()]),
            PathBuf::from("contract_commitments/part-c-1.parquet")
        );
    }

    #[test]
    fn schemas_end_with_lineage() {
        for d in ALL {
            let schema = d.schema();
            assert_eq!(schema.fields().len(), d.columns.len() + LINEAGE.len());
            assert_eq!(schema.field(schema.fields().len() - 1).name(), "x_IngestRunId");
        }
    }
}
