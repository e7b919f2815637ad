//! What every format mapper shares: finding columns in a header, reading
//! cells as text, decimals and timestamps with errors that name the column,
//! and counting what had to be normalised.

use std::collections::{BTreeMap, HashMap};

use csv::StringRecord;

use crate::schema::LineItem;
use crate::{money, timestamp};

/// Turns one source row into a canonical [`LineItem`].
pub trait Mapper: Send + Sync {
    fn map<'a>(
        &'a self,
        row: &'a StringRecord,
        cache: &mut ParseCache,
        item: &mut LineItem<'a>,
        notes: &mut Normalisations,
    ) -> Result<(), RowError>;

    /// Line items the row yields besides `item` (GCP: one Credit row per
    /// credit). Called only after `map` succeeded; an error quarantines the
    /// whole row, `item` included.
    fn extra_items<'a>(
        &'a self,
        _row: &'a StringRecord,
        _item: &LineItem<'a>,
        _extra: &mut Vec<LineItem<'a>>,
        _notes: &mut Normalisations,
    ) -> Result<(), RowError> {
        Ok(())
    }

    /// The row's cost as the source states it, reconciled per file against
    /// the BilledCost that lands: the cost column's cell, or `None` when it
    /// does not parse. GCP adds the row's credits, which land as their own rows.
    fn source_cost(&self, row: &StringRecord) -> Option<i128> {
        row.get(self.cost_column().index).and_then(|c| money::parse_lenient(c).ok()).map(|(p, _)| p.value)
    }

    /// The source column that lands as BilledCost: its per-file sum is
    /// reconciled against what was written.
    fn cost_column(&self) -> &Column;

    /// The source column that lands as BillingCurrency, when the file has one.
    fn currency_column(&self) -> Option<&Column>;

    /// For formats whose files each hold one billing period, the column that
    /// says which: a row of another period stops the file. `None` where a
    /// file may span periods (FOCUS, GCP, Azure exports).
    fn one_period_per_file(&self) -> Option<&Column> {
        None
    }
}

/// A column found in the header: where it is and what the file calls it.
#[derive(Debug, Clone)]
pub struct Column {
    pub index: usize,
    pub name: String,
}

/// Why one row could not be mapped; the row goes to quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub column: String,
    pub message: String,
}

impl RowError {
    pub fn new(column: &str, message: impl Into<String>) -> Self {
        RowError { column: column.to_string(), message: message.into() }
    }
}

/// Counts of values that were accepted only after normalising them, by kind
/// (e.g. `timestamp without T/Z`). Reported per file and kept in `ingests`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalisations(BTreeMap<String, u64>);

impl Normalisations {
    pub fn note(&mut self, kind: &str) {
        self.add(kind, 1);
    }

    pub fn add(&mut self, kind: &str, count: u64) {
        if let Some(n) = self.0.get_mut(kind) {
            *n += count;
        } else {
            self.0.insert(kind.to_string(), count);
        }
    }

    pub fn merge(&mut self, other: &Normalisations) {
        for (kind, n) in &other.0 {
            self.add(kind, *n);
        }
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// `timestamp without T/Z: 1000, literal NULL: 12`
    pub fn summary(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
    }
}

/// A file's header, searchable by exact or case-insensitive name.
pub struct Header {
    pub names: Vec<String>,
    lowercase: HashMap<String, usize>,
}

impl Header {
    pub fn new(names: Vec<String>) -> Self {
        let mut lowercase = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            // First occurrence wins, as readers of duplicate headers usually do.
            lowercase.entry(name.to_ascii_lowercase()).or_insert(i);
        }
        Header { names, lowercase }
    }

    pub fn find(&self, name: &str) -> Option<Column> {
        self.lowercase.get(&name.to_ascii_lowercase()).map(|&index| Column { index, name: self.names[index].clone() })
    }

    pub fn has(&self, name: &str) -> bool {
        self.lowercase.contains_key(&name.to_ascii_lowercase())
    }
}

/// A non-empty cell, trimmed; `None` for an empty cell or a missing column.
pub fn text<'a>(row: &'a StringRecord, column: Option<&Column>) -> Option<&'a str> {
    let cell = row.get(column?.index)?.trim();
    (!cell.is_empty()).then_some(cell)
}

/// A money cell (cost, unit price) at [`money::SCALE`].
pub fn decimal(
    row: &StringRecord,
    column: Option<&Column>,
    notes: &mut Normalisations,
) -> Result<Option<i128>, RowError> {
    let lenient = "number with currency symbol or thousands separators";
    number(row, column, notes, money::SCALE as u32, lenient, "decimal rounded to 20 places")
}

/// A quantity cell (usage, pricing or consumed quantity) at [`money::QUANTITY_SCALE`].
pub fn quantity(
    row: &StringRecord,
    column: Option<&Column>,
    notes: &mut Normalisations,
) -> Result<Option<i128>, RowError> {
    let lenient = "number with thousands separators";
    number(row, column, notes, money::QUANTITY_SCALE as u32, lenient, "quantity rounded to 16 places")
}

/// An exact number at `scale`, noting lenient spellings and rounding.
fn number(
    row: &StringRecord,
    column: Option<&Column>,
    notes: &mut Normalisations,
    scale: u32,
    lenient_note: &str,
    rounded_note: &str,
) -> Result<Option<i128>, RowError> {
    let Some(cell) = text(row, column) else {
        return Ok(None);
    };
    let column = column.expect("text() found a cell");
    let (parsed, lenient) =
        money::parse_lenient_with_scale(cell, scale).map_err(|e| RowError::new(&column.name, e.to_string()))?;
    if lenient {
        notes.note(lenient_note);
    }
    if parsed.rounded {
        notes.note(rounded_note);
    }
    Ok(Some(parsed.value))
}

/// Remembers the last timestamp parsed per column: billing files repeat the
/// same period bounds on every row, so most parses become a string compare.
#[derive(Default)]
pub struct ParseCache {
    last: Vec<Option<(String, timestamp::Parsed)>>,
}

impl ParseCache {
    pub fn timestamp(
        &mut self,
        row: &StringRecord,
        column: Option<&Column>,
        notes: &mut Normalisations,
        loose_note: Option<&str>,
    ) -> Result<Option<i64>, RowError> {
        let Some(cell) = text(row, column) else {
            return Ok(None);
        };
        let column = column.expect("text() found a cell");
        if self.last.len() <= column.index {
            self.last.resize(column.index + 1, None);
        }
        let parsed = match &self.last[column.index] {
            Some((previous, parsed)) if previous == cell => *parsed,
            _ => {
                let parsed = timestamp::parse(cell).map_err(|e| RowError::new(&column.name, e))?;
                self.last[column.index] = Some((cell.to_string(), parsed));
                parsed
            }
        };
        if let Some(why) = timestamp::out_of_range(parsed.micros) {
            return Err(RowError::new(&column.name, why));
        }
        if !parsed.strict
            && let Some(note) = loose_note
        {
            notes.note(note);
        }
        Ok(Some(parsed.micros))
    }
}

/// The dates of a mapped line item hold together: each in the accepted range,
/// a charge that does not end before it starts, a billing period that ends
/// after it starts, and a charge that starts no more than
/// [`timestamp::CHARGE_BEFORE_PERIOD`] before its billing period or
/// [`timestamp::CHARGE_AFTER_PERIOD`] after it. A row that fails goes to quarantine.
pub fn check_dates(item: &LineItem<'_>) -> Result<(), RowError> {
    let dates = [
        ("BillingPeriodStart", item.billing_period_start),
        ("BillingPeriodEnd", item.billing_period_end),
        ("ChargePeriodStart", item.charge_period_start),
        ("ChargePeriodEnd", item.charge_period_end),
    ];
    for (name, date) in dates {
        if let Some(why) = date.and_then(timestamp::out_of_range) {
            return Err(RowError::new(name, why));
        }
    }
    let iso = timestamp::iso;
    if let (Some(start), Some(end)) = (item.charge_period_start, item.charge_period_end)
        && end < start
    {
        return Err(RowError::new(
            "ChargePeriodEnd",
            format!("the charge ends ({}) before it starts ({})", iso(end), iso(start)),
        ));
    }
    if let (Some(start), Some(end)) = (item.billing_period_start, item.billing_period_end)
        && end <= start
    {
        return Err(RowError::new(
            "BillingPeriodEnd",
            format!("the billing period ends ({}) before it starts ({})", iso(end), iso(start)),
        ));
    }
    if let (Some(charge), Some(period_start)) = (item.charge_period_start, item.billing_period_start) {
        let period_end = item.billing_period_end.unwrap_or(period_start);
        if charge < period_start - timestamp::CHARGE_BEFORE_PERIOD
            || charge >= period_end + timestamp::CHARGE_AFTER_PERIOD
        {
            return Err(RowError::new(
                "ChargePeriodStart",
                format!(
                    "the charge starts {}, far outside its billing period {} (accepted: from 366 days before the \
                     period starts to 31 days after it ends)",
                    iso(charge),
                    crate::calendar::year_month(period_start)
                ),
            ));
        }
    }
    Ok(())
}

/// The line item's currency as an ISO 4217 code in upper case (`usd` ->
/// `USD`, counted), an unknown code an error; and no money cell of the row
/// written with a symbol of another currency (`€5` in a USD file).
/// `column` names the source's currency column; `header` the row's columns.
pub fn check_currency(
    item: &mut LineItem<'_>,
    row: &StringRecord,
    header: &[String],
    column: &str,
    notes: &mut Normalisations,
) -> Result<(), RowError> {
    let Some(written) = item.billing_currency else { return Ok(()) };
    let code = crate::currency::iso_4217(written).ok_or_else(|| {
        RowError::new(
            column,
            format!("unknown currency code {written:?}: billing currencies are ISO 4217 codes (USD, EUR, ...)"),
        )
    })?;
    if code != written {
        notes.note("currency code upper-cased");
    }
    item.billing_currency = Some(code);
    for (i, cell) in row.iter().enumerate() {
        let unsigned = cell.trim().trim_start_matches('-').trim_start();
        let Some(symbol) = unsigned.chars().next().filter(|c| matches!(c, '$' | '€' | '£' | '¥')) else { continue };
        if !crate::currency::symbol_fits(symbol, code) && money::parse_lenient(cell).is_ok() {
            let name = header.get(i).map_or("?", String::as_str);
            return Err(RowError::new(
                name,
                format!(
                    "{cell:?} is written in {symbol}, but the row's currency is {code}: tally does not guess which is right"
                ),
            ));
        }
    }
    Ok(())
}

/// `lineItem/UnblendedCost` -> `line_item_unblended_cost`: AWS's own rule for
/// Athena and CUR 2.0 names (every capital starts a new word, so
/// `ReservationARN` becomes `reservation_a_r_n`, as AWS writes it).
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    for (i, part) in name.split('/').enumerate() {
        if i > 0 {
            out.push('_');
        }
        for (j, c) in part.chars().enumerate() {
            if c.is_ascii_uppercase() {
                if j > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_matches_aws_athena_names() {
        assert_eq!(snake_case("lineItem/UnblendedCost"), "line_item_unblended_cost");
        assert_eq!(snake_case("reservation/ReservationARN"), "reservation_reservation_a_r_n");
        assert_eq!(snake_case("product/servicecode"), "product_servicecode");
        assert_eq!(snake_case("product/productFamily"), "product_product_family");
        assert_eq!(snake_case("line_item_unblended_cost"), "line_item_unblended_cost");
    }

    #[test]
    fn cells_read_with_column_names_in_errors() {
        let header = Header::new(vec!["Cost".into(), "When".into()]);
        let row = StringRecord::from(vec!["12.5x", "2023-13-01"]);
        let mut notes = Normalisations::default();
        let err = decimal(&row, header.find("cost").as_ref(), &mut notes).unwrap_err();
        assert_eq!(err, RowError::new("Cost", "not a number: \"12.5x\""));
        let err = ParseCache::default().timestamp(&row, header.find("When").as_ref(), &mut notes, None).unwrap_err();
        assert_eq!(err.column, "When");
    }
}
