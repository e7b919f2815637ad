//! Writing CUR rows: the column set, one line item, and the gzip CSV parts of
//! one payer's monthly report.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use csv::ByteRecord;
use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};

use super::GeneratedFile;
use super::decimal::Fixed;
use super::ids::{mix64, push_hex};

/// The header of every file, in order.
pub const COLUMNS: [&str; 56] = [
    "identity/LineItemId",
    "identity/TimeInterval",
    "bill/InvoiceId",
    "bill/InvoicingEntity",
    "bill/BillingEntity",
    "bill/BillType",
    "bill/PayerAccountId",
    "bill/BillingPeriodStartDate",
    "bill/BillingPeriodEndDate",
    "lineItem/UsageAccountId",
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/ProductCode",
    "lineItem/UsageType",
    "lineItem/Operation",
    "lineItem/AvailabilityZone",
    "lineItem/ResourceId",
    "lineItem/UsageAmount",
    "lineItem/CurrencyCode",
    "lineItem/UnblendedRate",
    "lineItem/UnblendedCost",
    "lineItem/BlendedRate",
    "lineItem/BlendedCost",
    "lineItem/LineItemDescription",
    "lineItem/TaxType",
    "product/ProductName",
    "product/productFamily",
    "product/region",
    "product/sku",
    "product/instanceType",
    "pricing/publicOnDemandCost",
    "pricing/publicOnDemandRate",
    "pricing/term",
    "pricing/unit",
    "reservation/ReservationARN",
    "reservation/EffectiveCost",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedRecurringFee",
    "savingsPlan/SavingsPlanARN",
    "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment",
    "resourceTags/user:team",
    "resourceTags/user:Team",
    "resourceTags/user:owner-team",
    "resourceTags/user:env",
    "resourceTags/user:cost-center",
    "resourceTags/user:service",
    "splitLineItem/ParentResourceId",
    "splitLineItem/SplitUsage",
    "splitLineItem/SplitCost",
    "splitLineItem/UnusedCost",
    "resourceTags/aws:eks:cluster-name",
    "resourceTags/aws:eks:namespace",
    "resourceTags/aws:eks:deployment",
];

/// Fixed gzip level: output bytes depend on it, and 6 is gzip's own default.
const GZIP_LEVEL: u32 = 3;

/// The line-item-specific columns of one row; the bill columns come from the
/// [`ReportWriter`]. `None` and `""` are written as empty cells.
#[derive(Default)]
pub struct LineItem<'a> {
    pub usage_account_id: &'a str,
    pub line_item_type: &'a str,
    /// `start/end` pair, e.g. `2026-08-01T00:00:00Z`.
    pub usage_start: &'a str,
    pub usage_end: &'a str,
    pub product_code: &'a str,
    pub usage_type: &'a str,
    pub operation: &'a str,
    pub availability_zone: &'a str,
    pub resource_id: &'a str,
    pub usage_amount: Option<Fixed>,
    pub unblended_rate: Option<Fixed>,
    pub unblended_cost: Fixed,
    pub description: &'a str,
    pub tax_type: &'a str,
    pub product_name: &'a str,
    pub product_family: &'a str,
    pub region: &'a str,
    pub sku: &'a str,
    pub instance_type: &'a str,
    pub public_on_demand_cost: Option<Fixed>,
    pub public_on_demand_rate: Option<Fixed>,
    pub pricing_term: &'a str,
    pub pricing_unit: &'a str,
    pub reservation_arn: &'a str,
    pub reservation_effective_cost: Option<Fixed>,
    pub unused_amortized_upfront_fee: Option<Fixed>,
    pub unused_recurring_fee: Option<Fixed>,
    pub savings_plan_arn: &'a str,
    pub savings_plan_effective_cost: Option<Fixed>,
    pub total_commitment_to_date: Option<Fixed>,
    pub used_commitment: Option<Fixed>,
    pub tags: Tags<'a>,
    /// A pod's row (split cost allocation data): its node, usage, used and unused cost.
    pub split: Option<PodSplit<'a>>,
}

/// What a pod row adds: the `splitLineItem/*` columns and the `aws:eks:*` tags.
#[derive(Clone, Copy)]
pub struct PodSplit<'a> {
    pub parent: &'a str,
    pub usage: Fixed,
    pub cost: Fixed,
    pub unused: Fixed,
    pub cluster: &'a str,
    pub namespace: &'a str,
    pub deployment: &'a str,
}

/// The `resourceTags/user:*` columns.
#[derive(Default, Clone, Copy)]
pub struct Tags<'a> {
    pub team: &'a str,
    pub team_capitalised: &'a str,
    pub owner_team: &'a str,
    pub env: &'a str,
    pub cost_center: &'a str,
    pub service: &'a str,
}

/// Columns shared by every row of one payer's monthly report.
pub struct Bill {
    pub payer_account_id: String,
    pub billing_period: String,
    pub invoice_id: String,
    pub invoicing_entity: String,
    /// `lineItem/CurrencyCode`.
    pub currency: &'static str,
    pub period_start: String,
    pub period_end: String,
    /// Line item ids hash `seed_key ^ (report_number << 40 | row)`; the report
    /// number is unique per payer and month, so ids are unique in a data set.
    pub report_number: u64,
    pub seed_key: u64,
}

/// Writes the parts of one payer's monthly report, starting a new part every
/// `rows_per_file` rows.
pub struct ReportWriter {
    bill: Bill,
    folder: PathBuf,
    rows_per_file: u64,
    part: Option<Part>,
    finished: Vec<GeneratedFile>,
    /// Rows written so far in this report (across parts).
    rows: u64,
    record: ByteRecord,
    scratch: String,
}

struct Part {
    path: PathBuf,
    csv: csv::Writer<GzEncoder<BufWriter<File>>>,
    rows: u64,
    unblended_total: Fixed,
}

impl ReportWriter {
    pub fn new(folder: &Path, bill: Bill, rows_per_file: u64) -> Result<ReportWriter> {
        std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
        Ok(ReportWriter {
            bill,
            folder: folder.to_path_buf(),
            rows_per_file: rows_per_file.max(1),
            part: None,
            finished: Vec::new(),
            rows: 0,
            record: ByteRecord::with_capacity(1024, COLUMNS.len()),
            scratch: String::with_capacity(64),
        })
    }

    /// The key line item ids are hashed with (for other stable ids in this report).
    pub fn seed_key(&self) -> u64 {
        self.bill.seed_key
    }

    pub fn write(&mut self, item: &LineItem) -> Result<()> {
        if self.part.as_ref().is_none_or(|p| p.rows >= self.rows_per_file) {
            self.start_part()?;
        }
        self.fill_record(item);
        let part = self.part.as_mut().expect("a part is open");
        part.csv.write_byte_record(&self.record).with_context(|| format!("writing {}", part.path.display()))?;
        part.rows += 1;
        part.unblended_total += item.unblended_cost;
        self.rows += 1;
        Ok(())
    }

    /// Closes the last part and returns all parts in order.
    pub fn finish(mut self) -> Result<Vec<GeneratedFile>> {
        self.close_part()?;
        Ok(self.finished)
    }

    fn start_part(&mut self) -> Result<()> {
        self.close_part()?;
        let number = self.finished.len() + 1;
        let path = self.folder.join(format!("demo-cur-{number:05}.csv.gz"));
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        // No file name and mtime 0 in the gzip header: same input, same bytes.
        let gzip =
            GzBuilder::new().mtime(0).write(BufWriter::with_capacity(256 * 1024, file), Compression::new(GZIP_LEVEL));
        let mut csv = csv::WriterBuilder::new().buffer_capacity(256 * 1024).from_writer(gzip);
        csv.write_record(COLUMNS).with_context(|| format!("writing {}", path.display()))?;
        self.part = Some(Part { path, csv, rows: 0, unblended_total: Fixed::ZERO });
        Ok(())
    }

    fn close_part(&mut self) -> Result<()> {
        let Some(part) = self.part.take() else {
            return Ok(());
        };
        let context = || format!("finishing {}", part.path.display());
        let gzip = part.csv.into_inner().map_err(|e| anyhow::anyhow!("{}", e.error())).with_context(context)?;
        let mut file = gzip.finish().with_context(context)?;
        std::io::Write::flush(&mut file).with_context(context)?;
        self.finished.push(GeneratedFile {
            path: part.path.clone(),
            billing_period: self.bill.billing_period.clone(),
            payer_account_id: self.bill.payer_account_id.clone(),
            rows: part.rows,
            unblended_cost_total: part.unblended_total.to_string(),
        });
        Ok(())
    }

    fn fill_record(&mut self, item: &LineItem) {
        let ReportWriter { bill, record, scratch, rows, .. } = self;
        record.clear();
        scratch.clear();
        line_item_id(bill.seed_key, bill.report_number << 40 | *rows, scratch);
        record.push_field(scratch.as_bytes());
        scratch.clear();
        if !item.usage_start.is_empty() {
            scratch.push_str(item.usage_start);
            scratch.push('/');
            scratch.push_str(item.usage_end);
        }
        record.push_field(scratch.as_bytes());
        for text in [
            bill.invoice_id.as_str(),
            &bill.invoicing_entity,
            "AWS",
            "Anniversary",
            &bill.payer_account_id,
            &bill.period_start,
            &bill.period_end,
            item.usage_account_id,
            item.line_item_type,
            item.usage_start,
            item.usage_end,
            item.product_code,
            item.usage_type,
            item.operation,
            item.availability_zone,
            item.resource_id,
        ] {
            record.push_field(text.as_bytes());
        }
        push_amount(record, scratch, item.usage_amount);
        record.push_field(bill.currency.as_bytes());
        push_amount(record, scratch, item.unblended_rate);
        push_amount(record, scratch, Some(item.unblended_cost));
        // Blended equals unblended: one payer family never mixes accounts' rates here.
        push_amount(record, scratch, item.unblended_rate);
        push_amount(record, scratch, Some(item.unblended_cost));
        for text in [
            item.description,
            item.tax_type,
            item.product_name,
            item.product_family,
            item.region,
            item.sku,
            item.instance_type,
        ] {
            record.push_field(text.as_bytes());
        }
        push_amount(record, scratch, item.public_on_demand_cost);
        push_amount(record, scratch, item.public_on_demand_rate);
        record.push_field(item.pricing_term.as_bytes());
        record.push_field(item.pricing_unit.as_bytes());
        record.push_field(item.reservation_arn.as_bytes());
        push_amount(record, scratch, item.reservation_effective_cost);
        push_amount(record, scratch, item.unused_amortized_upfront_fee);
        push_amount(record, scratch, item.unused_recurring_fee);
        record.push_field(item.savings_plan_arn.as_bytes());
        push_amount(record, scratch, item.savings_plan_effective_cost);
        push_amount(record, scratch, item.total_commitment_to_date);
        push_amount(record, scratch, item.used_commitment);
        let tags = &item.tags;
        for text in [tags.team, tags.team_capitalised, tags.owner_team, tags.env, tags.cost_center, tags.service] {
            record.push_field(text.as_bytes());
        }
        match &item.split {
            Some(split) => {
                record.push_field(split.parent.as_bytes());
                for amount in [split.usage, split.cost, split.unused] {
                    push_amount(record, scratch, Some(amount));
                }
                for text in [split.cluster, split.namespace, split.deployment] {
                    record.push_field(text.as_bytes());
                }
            }
            None => (0..7).for_each(|_| record.push_field(b"")),
        }
        debug_assert_eq!(record.len(), COLUMNS.len());
    }
}

fn push_amount(record: &mut ByteRecord, scratch: &mut String, amount: Option<Fixed>) {
    scratch.clear();
    if let Some(amount) = amount {
        amount.write_to(scratch);
    }
    record.push_field(scratch.as_bytes());
}

/// 40 hex digits. The first 16 are a bijection of `counter` (for a given
/// seed), so distinct counters never share an id.
fn line_item_id(seed_key: u64, counter: u64, out: &mut String) {
    let unique = mix64(seed_key ^ counter);
    push_hex(out, unique, 16);
    push_hex(out, mix64(unique ^ 0xA5A5_A5A5), 16);
    push_hex(out, mix64(unique ^ 0x5A5A_5A5A), 8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_item_ids_are_40_hex_digits() {
        let mut id = String::new();
        line_item_id(42, 7, &mut id);
        assert_eq!(id.len(), 40);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
