//! One reporting currency for finance: `currency.toml` in the mappings folder names it, where
//! the exchange rates come from, and how each month's rate is fixed:
//!
//! ```toml
//! reporting = "USD"
//! rates = "rates/eurofxref-hist.csv"   # the ECB's reference rates as published, or date,from,to,rate
//! policy = "month-end"                 # month-end | monthly-average | fixed (the default for every month)
//! months = { "2026-10" = "monthly-average" }
//! fixed = { 2026 = { EUR = "1.08", CAD = "0.73" } }   # the year's budget rates (1 EUR = 1.08 USD)
//! ```
//!
//! A month's rate for a pair is resolved once, when the month is attributed, and recorded on
//! every attributed row (rate, its date, the policy): a locked month keeps its rates whatever the
//! file says later, and re-attributing it is a restatement. Rates are exact decimals
//! ([`money::RATE_SCALE`] places); a cross rate (CAD to USD through the ECB's EUR quotes) and a
//! month's average are rounded to that scale, half away from zero, once.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::mappings::MappingError;
use crate::calendar::Month;
use crate::money;

pub const FILE: &str = "currency.toml";

/// How a month's rate is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// The last rate published in the month (the month so far, while it is open).
    #[default]
    MonthEnd,
    /// The mean of the month's published daily rates.
    MonthlyAverage,
    /// The year's budget rate from `fixed`.
    Fixed,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::MonthEnd => "month-end",
            Policy::MonthlyAverage => "monthly-average",
            Policy::Fixed => "fixed",
        }
    }
}

/// `currency.toml` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencyFile {
    pub reporting: String,
    /// The rates file, relative to the mappings folder.
    pub rates: Option<String>,
    #[serde(default)]
    pub policy: Policy,
    #[serde(default)]
    pub months: BTreeMap<String, Policy>,
    /// Year -> currency -> rate into the reporting currency, as decimal text.
    #[serde(default)]
    pub fixed: BTreeMap<String, BTreeMap<String, String>>,
}

/// A rate as the lake records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    /// One unit of the billing currency in the reporting currency, at [`money::RATE_SCALE`].
    pub rate: i128,
    /// The day the rate was published (month-end), the month's last published day (average);
    /// `None` for a fixed rate or the reporting currency itself.
    pub date: Option<NaiveDate>,
    /// `month-end`, `monthly-average`, `fixed`, or `same` (billed in the reporting currency).
    pub policy: &'static str,
}

/// The reporting currency and every rate the rates file gives, by pair and day.
#[derive(Debug)]
pub struct Currency {
    pub reporting: &'static str,
    policy: Policy,
    months: BTreeMap<String, Policy>,
    /// (year, currency) -> rate into the reporting currency.
    fixed: BTreeMap<(i32, &'static str), i128>,
    /// (from, to) -> day -> rate (1 from = rate to).
    quotes: BTreeMap<(&'static str, &'static str), BTreeMap<NaiveDate, i128>>,
}

/// A pair and month without a rate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Missing {
    pub from: String,
    pub to: String,
    pub month: String,
    pub policy: Policy,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.policy {
            Policy::Fixed => write!(
                f,
                "{} to {}: no fixed rate for {} (currency.toml: fixed = {{ {} = {{ {} = \"...\" }} }})",
                self.from,
                self.to,
                &self.month[..4],
                &self.month[..4],
                self.from
            ),
            policy => write!(
                f,
                "{} to {} in {}: no rate dated {}-01 to the month's end in the rates file ({})",
                self.from,
                self.to,
                self.month,
                self.month,
                policy.name()
            ),
        }
    }
}

fn code(file: &str, line: Option<usize>, text: &str) -> Result<&'static str, MappingError> {
    crate::currency::iso_4217(text)
        .ok_or_else(|| MappingError::new(file, line, format!("`{text}` is not an ISO 4217 currency code")))
}

/// The largest rate a rates file may give, at [`money::RATE_SCALE`].
const MAX_RATE: i128 = 1_000_000_000 * money::RATE_ONE;

fn rate_of(file: &str, line: Option<usize>, text: &str) -> Result<i128, MappingError> {
    let parsed = money::parse_with_scale(text.trim(), money::RATE_SCALE as u32)
        .map_err(|e| MappingError::new(file, line, format!("rate `{text}`: {e}")))?;
    if parsed.value <= 0 {
        return Err(MappingError::new(file, line, format!("rate `{text}` is not positive")));
    }
    // No currency pair is quoted above a billion; the bound keeps every cross rate, inverse and
    // average of two quotes within the lake's 38 digits.
    if parsed.value > MAX_RATE {
        return Err(MappingError::new(file, line, format!("rate `{text}` is above 1000000000: not an exchange rate")));
    }
    Ok(parsed.value)
}

impl Currency {
    /// `currency.toml` (already parsed) and the rates file it names, read from `dir`.
    pub fn load(dir: &Path, file: &CurrencyFile, text: &str) -> Result<Currency, MappingError> {
        let path = dir.join(FILE).display().to_string();
        let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).map(|i| i + 1);
        let reporting = code(&path, line_of("reporting"), &file.reporting)?;
        for month in file.months.keys() {
            if Month::parse(month).is_none() {
                return Err(MappingError::new(&path, line_of(month), format!("`{month}` is not a month (YYYY-MM)")));
            }
        }
        let mut fixed = BTreeMap::new();
        for (year, rates) in &file.fixed {
            let y: i32 = year
                .parse()
                .map_err(|_| MappingError::new(&path, line_of(year), format!("fixed rates: `{year}` is not a year")))?;
            for (currency, rate) in rates {
                let line = line_of(rate);
                fixed.insert((y, code(&path, line, currency)?), rate_of(&path, line, rate)?);
            }
        }
        let mut quotes = BTreeMap::new();
        if let Some(rates) = &file.rates {
            let rates_path = dir.join(rates);
            let text = std::fs::read_to_string(&rates_path).map_err(|e| {
                MappingError::new(&path, line_of("rates"), format!("rates file {}: {e}", rates_path.display()))
            })?;
            read_rates(&rates_path.display().to_string(), &text, &mut quotes)?;
        }
        Ok(Currency { reporting, policy: file.policy, months: file.months.clone(), fixed, quotes })
    }

    /// The policy of `month` (`YYYY-MM`).
    pub fn policy(&self, month: &str) -> Policy {
        self.months.get(month).copied().unwrap_or(self.policy)
    }

    /// The rate of `from` into the reporting currency for `month`, by the month's policy.
    pub fn rate(&self, from: &str, month: &str) -> Result<Rate, Missing> {
        let policy = self.policy(month);
        let missing =
            || Missing { from: from.to_string(), to: self.reporting.to_string(), month: month.to_string(), policy };
        if from == self.reporting {
            return Ok(Rate { rate: money::RATE_ONE, date: None, policy: "same" });
        }
        let month_of = Month::parse(month).ok_or_else(missing)?;
        let first = month_of.first();
        if policy == Policy::Fixed {
            let rate = self.fixed.get(&(first.year(), from)).ok_or_else(missing)?;
            return Ok(Rate { rate: *rate, date: None, policy: policy.name() });
        }
        let end = month_of.next().first();
        let daily = self.daily(from, first, end);
        let (last, rate) = match policy {
            Policy::MonthEnd => daily.last().copied().ok_or_else(missing)?,
            _ => {
                let last = daily.last().ok_or_else(missing)?.0;
                let sum: i128 = daily.iter().map(|(_, r)| r).sum();
                (last, money::div_round(sum, daily.len() as i128))
            }
        };
        Ok(Rate { rate, date: Some(last), policy: policy.name() })
    }

    /// `from`'s rate into the reporting currency on each published day in `[first, end)`:
    /// quoted directly, inverted, or crossed through a currency both are quoted against (the
    /// ECB quotes every currency against EUR), each rounded once.
    fn daily(&self, from: &str, first: NaiveDate, end: NaiveDate) -> Vec<(NaiveDate, i128)> {
        let to = self.reporting;
        // 1 `a` in `b` per day, as a fraction of quotes: ([numerator], [denominator]).
        let legs = |a: &str, b: &str| -> BTreeMap<NaiveDate, (Vec<i128>, Vec<i128>)> {
            let quoted = |x: &str, y: &str| {
                let pair = crate::currency::iso_4217(x).zip(crate::currency::iso_4217(y));
                pair.and_then(|pair| self.quotes.get(&pair))
                    .into_iter()
                    .flat_map(|d| d.range(first..end))
                    .map(|(d, r)| (*d, *r))
            };
            // A direct quote wins over an inverted one on the same day.
            let mut out: BTreeMap<NaiveDate, (Vec<i128>, Vec<i128>)> =
                quoted(b, a).map(|(d, r)| (d, (vec![], vec![r]))).collect();
            out.extend(quoted(a, b).map(|(d, r)| (d, (vec![r], vec![]))));
            out
        };
        let rounded = |days: BTreeMap<NaiveDate, (Vec<i128>, Vec<i128>)>| -> Vec<(NaiveDate, i128)> {
            days.into_iter().map(|(day, (n, d))| (day, money::rate_quotient(&n, &d))).collect()
        };
        let direct = legs(from, to);
        if !direct.is_empty() {
            return rounded(direct);
        }
        let pivots: std::collections::BTreeSet<&str> =
            self.quotes.keys().flat_map(|(a, b)| [*a, *b]).filter(|c| *c != from && *c != to).collect();
        for pivot in pivots {
            let (first_leg, second_leg) = (legs(from, pivot), legs(pivot, to));
            let crossed: BTreeMap<NaiveDate, (Vec<i128>, Vec<i128>)> = first_leg
                .into_iter()
                .filter_map(|(day, (n1, d1))| {
                    let (n2, d2) = second_leg.get(&day)?;
                    Some((day, ([n1, n2.clone()].concat(), [d1, d2.clone()].concat())))
                })
                .collect();
            if !crossed.is_empty() {
                return rounded(crossed);
            }
        }
        Vec::new()
    }
}

/// The rates file: the ECB's reference-rate CSV as published (`Date,USD,JPY,...`, one row per
/// day, 1 EUR in each currency, `N/A` where none), or `date,from,to,rate` rows.
fn read_rates(
    path: &str,
    text: &str,
    quotes: &mut BTreeMap<(&'static str, &'static str), BTreeMap<NaiveDate, i128>>,
) -> Result<(), MappingError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| MappingError::new(path, Some(1), e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let lower: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
    let pairs = lower.len() >= 4 && lower[..4] == ["date", "from", "to", "rate"];
    let ecb = !pairs && lower.first().is_some_and(|h| h == "date");
    if !pairs && !ecb {
        return Err(MappingError::new(
            path,
            Some(1),
            "a rates file starts with `date,from,to,rate`, or is the ECB's reference-rate CSV (`Date,USD,JPY,...`)",
        ));
    }
    // The ECB's columns: each is a currency quoted against EUR (the last header is empty).
    let columns: Vec<Option<&'static str>> = header
        .iter()
        .enumerate()
        .map(|(i, h)| if i == 0 || h.is_empty() { None } else { crate::currency::iso_4217(h) })
        .collect();
    if ecb && let Some((i, h)) = header.iter().enumerate().skip(1).find(|(i, h)| !h.is_empty() && columns[*i].is_none())
    {
        return Err(MappingError::new(
            path,
            Some(1),
            format!("column {}: `{h}` is not an ISO 4217 currency code", i + 1),
        ));
    }
    for (index, record) in reader.records().enumerate() {
        let line = Some(index + 2);
        let record = record.map_err(|e| MappingError::new(path, line, e.to_string()))?;
        let field = |i: usize| record.get(i).unwrap_or("");
        let date = NaiveDate::parse_from_str(field(0), "%Y-%m-%d").map_err(|_| {
            MappingError::new(path, line, format!("column 1: `{}` is not a date (YYYY-MM-DD)", field(0)))
        })?;
        if pairs {
            let (from, to) = (code(path, line, field(1))?, code(path, line, field(2))?);
            quotes.entry((from, to)).or_default().insert(date, rate_of(path, line, field(3))?);
            continue;
        }
        for (i, currency) in columns.iter().enumerate() {
            let (Some(currency), value) = (currency, field(i)) else { continue };
            if value.is_empty() || value.eq_ignore_ascii_case("N/A") {
                continue;
            }
            let rate = rate_of(path, line, value)
                .map_err(|e| MappingError::new(path, line, format!("column {}: {}", i + 1, e.message)))?;
            quotes.entry(("EUR", *currency)).or_default().insert(date, rate);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(toml: &str, rates: &str) -> Currency {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rates.csv"), rates).unwrap();
        let file: CurrencyFile = toml::from_str(toml).unwrap();
        Currency::load(dir.path(), &file, toml).unwrap()
    }

    const ECB: &str =
        "Date,USD,JPY,CAD,NOK,\n2026-10-30,1.0849,N/A,1.5079,11.6430,\n2026-10-29,1.0800,164.12,1.5000,11.6000,\n";

    #[test]
    fn month_end_average_and_cross_rates_from_the_ecb_file() {
        let c =
            currency("reporting = \"USD\"\nrates = \"rates.csv\"\nmonths = { \"2026-11\" = \"monthly-average\" }", ECB);
        let eur = c.rate("EUR", "2026-10").unwrap();
        assert_eq!(
            (money::format(eur.rate, 12), eur.date.unwrap().to_string()),
            ("1.0849".into(), "2026-10-30".into())
        );
        // CAD -> USD on 30 October: 1.0849 / 1.5079 = 0.719477418927 (Python decimal, 12 places, half up).
        let cad = c.rate("CAD", "2026-10").unwrap();
        assert_eq!(money::format(cad.rate, 12), "0.719477418927");
        assert_eq!(c.rate("USD", "2026-10").unwrap().policy, "same");
        let missing = c.rate("EUR", "2026-09").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "EUR to USD in 2026-09: no rate dated 2026-09-01 to the month's end in the rates file (month-end)"
        );
    }

    #[test]
    fn a_rate_no_currency_has_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rates.csv"), "date,from,to,rate\n2026-10-01,EUR,USD,99999999999999\n").unwrap();
        let toml = "reporting = \"USD\"\nrates = \"rates.csv\"";
        let file: CurrencyFile = toml::from_str(toml).unwrap();
        let error = Currency::load(dir.path(), &file, toml).unwrap_err().to_string();
        assert!(
            error.ends_with("rates.csv:2: rate `99999999999999` is above 1000000000: not an exchange rate"),
            "{error}"
        );
    }

    #[test]
    fn pair_rows_and_fixed_rates() {
        let pairs = "date,from,to,rate\n2026-10-01,EUR,USD,1.10\n2026-10-31,EUR,USD,1.20\n";
        let c = currency(
            "reporting = \"USD\"\nrates = \"rates.csv\"\npolicy = \"monthly-average\"\nmonths = { \"2026-12\" = \"fixed\" }\nfixed = { 2026 = { EUR = \"1.08\" } }",
            pairs,
        );
        assert_eq!(money::format(c.rate("EUR", "2026-10").unwrap().rate, 12), "1.15");
        let fixed = c.rate("EUR", "2026-12").unwrap();
        assert_eq!((money::format(fixed.rate, 12), fixed.date, fixed.policy), ("1.08".into(), None, "fixed"));
        assert!(c.rate("CAD", "2026-12").unwrap_err().to_string().contains("no fixed rate for 2026"));
        // USD reported in EUR: the inverse of EUR -> USD, 1 / 1.20 = 0.833333333333.
        let inverse = currency("reporting = \"EUR\"\nrates = \"rates.csv\"", pairs);
        assert_eq!(money::format(inverse.rate("USD", "2026-10").unwrap().rate, 12), "0.833333333333");
    }
}
