//! FOCUS supplementary datasets in an export folder: Contract Commitment
//! (1.3), Invoice Detail and Billing Period (1.4). Told from the header
//! (each has columns the others lack, and none has ChargePeriodStart), read
//! row by row into their own tables (see [`crate::lake::datasets`]), with the
//! same reconciliation as line items: rows read = landed + quarantined, and
//! the cost column's sum likewise.

use csv::StringRecord;

use super::mapper::{Header, Normalisations, ParseCache, RowError, decimal, quantity, text};
use super::source::{RowRead, Rows};
use super::{IngestError, file_error};
use crate::lake::datasets::{self, Dataset, StagedDatasets, Value};
use crate::lake::log::{IngestRecord, QuarantinedRow};
use crate::money;
use crate::schema::Kind;

/// Columns only the Invoice Detail dataset has.
const INVOICE_DETAIL_ONLY: &[&str] = &[
    "InvoiceDetailCreated",
    "InvoiceDetailDescription",
    "InvoiceDetailGrain",
    "InvoiceDetailLastUpdated",
    "InvoiceIssueDate",
    "InvoiceIssueStatus",
    "PaymentDueDate",
    "PaymentTerms",
    "ReferenceInvoiceId",
];
const CONTRACT_COMMITMENT_ONLY: &[&str] =
    &["ContractCommitmentId", "ContractCommitmentCategory", "ContractCommitmentPeriodStart", "ContractId"];
const BILLING_PERIOD_ONLY: &[&str] = &["BillingPeriodStatus", "BillingPeriodCreated", "BillingPeriodLastUpdated"];

/// The supplementary dataset a header is, or `None` (Cost and Usage, or not FOCUS).
pub fn of(header: &Header) -> Option<&'static Dataset> {
    if header.has("ChargePeriodStart") {
        return None;
    }
    let any = |columns: &[&str]| columns.iter().any(|c| header.has(c));
    if any(INVOICE_DETAIL_ONLY) && header.has("BilledCost") {
        Some(&datasets::INVOICE_DETAILS)
    } else if any(CONTRACT_COMMITMENT_ONLY) && !header.has("BilledCost") {
        Some(&datasets::CONTRACT_COMMITMENTS)
    } else if any(BILLING_PERIOD_ONLY) && !header.has("BilledCost") {
        Some(&datasets::BILLING_PERIODS)
    } else {
        None
    }
}

/// The FOCUS version a dataset first appeared in.
pub fn version(dataset: &Dataset) -> &'static str {
    if dataset.table == datasets::CONTRACT_COMMITMENTS.table { "1.3" } else { "1.4" }
}

/// What reading a file gives besides its staged rows.
pub struct Read {
    pub notes: Normalisations,
}

/// Reads every row of a dataset file into `staged`, filling `record`'s counts.
pub fn read(
    mut rows: Rows,
    header: &Header,
    dataset: &'static Dataset,
    run_id: &str,
    staged: &mut StagedDatasets,
    record: &mut IngestRecord,
    quarantined: &mut Vec<QuarantinedRow>,
) -> Result<Read, IngestError> {
    let name = record.source_file.clone();
    let columns: Vec<_> = dataset.columns.iter().map(|(c, kind)| (header.find(c), *kind)).collect();
    let unknown = header
        .names
        .iter()
        .filter(|n| !n.starts_with("x_") && !dataset.columns.iter().any(|(c, _)| c.eq_ignore_ascii_case(n)));
    let mut notes = Normalisations::default();
    let ignored = unknown.count();
    if ignored > 0 {
        notes.add(&format!("column not in FOCUS {} ignored", dataset.title), ignored as u64);
    }
    let cost = dataset.cost.and_then(|c| header.find(c));
    let mut cache = ParseCache::default();
    let mut row = StringRecord::new();
    let mut currency: Option<String> = None;
    let mut periods = std::collections::BTreeSet::new();
    let mut row_number = 0u64;
    loop {
        let read = rows.next(&mut row).map_err(|e| file_error(&name, e))?;
        let bad = match read {
            RowRead::End => break,
            RowRead::Row => None,
            RowRead::Bad { reason, raw } => Some(("(whole row)".to_string(), reason, raw)),
        };
        row_number += 1;
        record.rows_read += 1;
        let row_cost = match bad {
            Some(_) => None,
            None => decimal(&row, cost.as_ref(), &mut Normalisations::default()).ok().flatten(),
        };
        let overflow = |what: &str| file_error(&name, format!("{} at row {row_number}: the {}", what, money::Overflow));
        if let Some(c) = row_cost {
            money::add(&mut record.source_cost, c).map_err(|_| overflow("cost"))?;
        }
        let parsed = match bad {
            Some(bad) => Err(bad),
            None => parse_row(&row, header, dataset, &columns, &mut cache, &mut notes)
                .map_err(|e| (e.column, e.message, row.iter().collect::<Vec<_>>().join(","))),
        };
        match parsed {
            Ok((mut values, key, row_currency)) => {
                values.push(Value::Text(Some(name.clone())));
                values.push(Value::Count(Some(row_number)));
                values.push(Value::Text(Some(run_id.to_string())));
                if let Some(c) = row_currency
                    && currency.is_none()
                {
                    currency = Some(c);
                }
                if dataset.table == datasets::INVOICE_DETAILS.table {
                    periods.insert(key[0].clone());
                }
                staged.push(dataset, &key, values);
                record.rows_landed += 1;
                record.lines_landed += 1;
            }
            Err((column, reason, raw)) => {
                if let Some(c) = row_cost {
                    money::add(&mut record.quarantined_cost, c).map_err(|_| overflow("quarantined cost"))?;
                }
                record.rows_quarantined += 1;
                quarantined.push(QuarantinedRow {
                    source_file: name.clone(),
                    source_row: row_number,
                    column,
                    reason,
                    raw,
                });
            }
        }
    }
    record.currency = currency.unwrap_or_default();
    record.billing_periods = periods.into_iter().collect::<Vec<_>>().join(",");
    Ok(Read { notes })
}

type Parsed = (Vec<Value>, Vec<String>, Option<String>);

/// One row's values in the dataset's column order, its unit key and its currency.
fn parse_row(
    row: &StringRecord,
    header: &Header,
    dataset: &Dataset,
    columns: &[(Option<super::mapper::Column>, Kind)],
    cache: &mut ParseCache,
    notes: &mut Normalisations,
) -> Result<Parsed, RowError> {
    let mut values = Vec::with_capacity(columns.len() + datasets::LINEAGE.len());
    for (column, kind) in columns {
        // A literal NULL (some exporters write it) is no value.
        let present = column.as_ref().filter(|c| text(row, Some(c)).is_some_and(|v| !v.eq_ignore_ascii_case("null")));
        values.push(match kind {
            Kind::Text => Value::Text(present.and_then(|c| text(row, Some(c))).map(str::to_string)),
            Kind::Decimal => Value::Number(decimal(row, present, notes)?),
            Kind::Quantity => Value::Number(quantity(row, present, notes)?),
            Kind::Timestamp => Value::Timestamp(cache.timestamp(row, present, notes, None)?),
            Kind::Count => unreachable!("no dataset column is a count"),
        });
    }
    let value_of = |name: &str| dataset.columns.iter().position(|(c, _)| *c == name).map(|i| &values[i]);
    let mut key = Vec::with_capacity(dataset.unit_columns.len());
    for name in dataset.unit_columns {
        let part = match value_of(name) {
            Some(Value::Text(Some(t))) => t.clone(),
            Some(Value::Timestamp(Some(t))) => crate::calendar::year_month(*t),
            _ => {
                let column = header.find(name).map_or(name.to_string(), |c| c.name);
                return Err(RowError::new(&column, format!("empty {name}: a {} row needs it", dataset.title)));
            }
        };
        key.push(part);
    }
    let currency = match value_of("BillingCurrency") {
        Some(Value::Text(Some(code))) => {
            let column = header.find("BillingCurrency").map_or("BillingCurrency".to_string(), |c| c.name);
            match crate::currency::iso_4217(code) {
                Some(iso) if iso == code => Some(code.clone()),
                _ => return Err(RowError::new(&column, format!("{code:?} is not an ISO 4217 currency code"))),
            }
        }
        _ => None,
    };
    Ok((values, key, currency))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Header {
        Header::new(names.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn datasets_from_headers() {
        let invoice =
            header(&["BilledCost", "BillingAccountId", "InvoiceId", "InvoiceIssueStatus", "BillingPeriodStart"]);
        assert_eq!(of(&invoice).map(|d| d.table), Some("invoice_details"));
        let contract = header(&["ContractId", "ContractCommitmentId", "ContractCommitmentCost"]);
        assert_eq!(of(&contract).map(|d| d.table), Some("contract_commitments"));
        let periods = header(&["BillingPeriodStart", "BillingPeriodEnd", "BillingPeriodStatus", "InvoiceIssuerName"]);
        assert_eq!(of(&periods).map(|d| d.table), Some("focus_billing_periods"));
        let cost_and_usage = header(&["BilledCost", "ChargePeriodStart", "BillingPeriodStart", "InvoiceIssuerName"]);
        assert!(of(&cost_and_usage).is_none());
    }
}
