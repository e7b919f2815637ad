//! The `restatements` table: one row per team and currency each time a
//! locked period is re-attributed, with both costs before and after, who
//! did it, when and why; `basis` says whether the amounts are in the billing
//! currency or converted into the reporting currency (currency.toml), so a change of
//! exchange rates shows as the change it is. Files are `<lake>/restatements/<time>-<period>.parquet`.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Decimal128Builder, StringBuilder, TimestampMicrosecondBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;

use super::{Lake, write_parquet_atomic};
use crate::money::{PRECISION, SCALE};

use super::catalogue::RESTATEMENTS as TABLE;

pub static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields =
        vec![Field::new("restated_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false)];
    for name in [
        "billing_period",
        "by",
        "message",
        "old_mappings_version",
        "new_mappings_version",
        "team",
        "BillingCurrency",
        "basis",
    ] {
        fields.push(Field::new(name, DataType::Utf8, true));
    }
    for name in ["billed_before", "billed_after", "effective_before", "effective_after"] {
        fields.push(Field::new(name, DataType::Decimal128(PRECISION, SCALE), false));
    }
    Arc::new(Schema::new(fields))
});

/// One team's spend in a restated period, before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamChange {
    pub team: String,
    pub currency: String,
    /// `billing`, or `reporting` for the amounts converted into the reporting currency.
    pub basis: String,
    /// `[billed, effective]`.
    pub before: [i128; 2],
    pub after: [i128; 2],
}

pub struct Restatement<'a> {
    pub restated_at_micros: i64,
    pub period: &'a str,
    pub by: &'a str,
    pub message: &'a str,
    pub old_mappings_version: &'a str,
    pub new_mappings_version: &'a str,
    pub changes: &'a [TeamChange],
}

pub fn write(lake: &Lake, r: &Restatement) -> std::io::Result<()> {
    let n = r.changes.len();
    let mut at = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut text: Vec<StringBuilder> = (0..8).map(|_| StringBuilder::new()).collect();
    let decimal = || Decimal128Builder::new().with_precision_and_scale(PRECISION, SCALE).expect("valid decimal type");
    let mut money: Vec<Decimal128Builder> = (0..4).map(|_| decimal()).collect();
    for change in r.changes {
        at.append_value(r.restated_at_micros);
        for (builder, value) in text.iter_mut().zip([
            r.period,
            r.by,
            r.message,
            r.old_mappings_version,
            r.new_mappings_version,
            &change.team,
            &change.currency,
            &change.basis,
        ]) {
            builder.append_value(value);
        }
        for (builder, value) in
            money.iter_mut().zip([change.before[0], change.after[0], change.before[1], change.after[1]])
        {
            builder.append_value(value);
        }
    }
    let mut columns: Vec<ArrayRef> = vec![Arc::new(at.finish())];
    columns.extend(text.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    columns.extend(money.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    let batch = RecordBatch::try_new(SCHEMA.clone(), columns).map_err(std::io::Error::other)?;
    let stamp =
        chrono::DateTime::from_timestamp_micros(r.restated_at_micros).unwrap_or_default().format("%Y%m%dT%H%M%S%6fZ");
    write_parquet_atomic(&lake.table_dir(TABLE).join(format!("{stamp}-{}.parquet", r.period)), &[batch])
}
