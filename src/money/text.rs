//! Numbers for people, the same in reports, nudges, budgets and findings: money
//! with thousands separators and a currency sign, percentages to one decimal.
//! Exact integer arithmetic only, rounded by [`div_round`].

use super::{SCALE, div_round, rescale};

/// Fractional digits of ratios (cost per unit, basis points).
pub const RATIO_SCALE: u32 = 10;

/// Change from `before` to `now` in tenths of a percent; `None` when `before` is zero or negative
/// (a change from nothing has no percentage).
pub fn change_tenths(now: i128, before: i128) -> Option<i128> {
    (before > 0).then(|| div_round((now - before) * 1000, before))
}

/// `part / whole` in tenths of a percent; `None` when `whole` is zero.
pub fn share_tenths(part: i128, whole: i128) -> Option<i128> {
    (whole != 0).then(|| div_round(part * 1000, whole))
}

/// Digits of a non-negative integer with thousands separators.
fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `value / 10^scale` with `places` decimals, separators, and a leading `-` when negative.
pub fn number(value: i128, scale: u32, places: u32) -> String {
    let rounded = rescale(value, scale, places);
    let sign = if rounded < 0 { "-" } else { "" };
    let abs = rounded.unsigned_abs();
    let unit = 10u128.pow(places);
    let whole = group(&(abs / unit).to_string());
    if places == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{:0width$}", abs % unit, width = places as usize)
    }
}

/// The sign a currency is written with, before the amount; `None` for a code written after it.
fn currency_sign(currency: &str) -> Option<&'static str> {
    match currency {
        "USD" => Some("$"),
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        _ => None,
    }
}

/// Money at the lake's scale, to the cent: `$12,345.67`, `-$5.00`, `1,234.50 CHF`.
pub fn money(value: i128, currency: &str) -> String {
    let text = number(value, SCALE as u32, 2);
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    match currency_sign(currency) {
        Some(symbol) => format!("{sign}{symbol}{digits}"),
        None if currency.is_empty() => text.clone(),
        None => format!("{text} {currency}"),
    }
}

/// A change in money, always signed: `+$1,234.00`, `-$5.10`.
pub fn money_change(value: i128, currency: &str) -> String {
    let text = money(value, currency);
    if text.starts_with('-') { text } else { format!("+{text}") }
}

/// Tenths of a percent: `12.3%`.
pub fn percent(tenths: i128) -> String {
    format!("{}%", number(tenths, 1, 1))
}

/// A signed change in tenths of a percent: `+12.3%`, `-4.0%`.
pub fn percent_change(tenths: i128) -> String {
    let text = percent(tenths);
    if text.starts_with('-') { text } else { format!("+{text}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_separators_and_currency() {
        let m = |units: i128, cents: i128| units * crate::money::ONE + cents * crate::money::CENT;
        assert_eq!(money(m(1_234_567, 89), "USD"), "$1,234,567.89");
        assert_eq!(money(-m(5, 0), "USD"), "-$5.00");
        assert_eq!(money(m(999, 50), "CHF"), "999.50 CHF");
        assert_eq!(money(0, "EUR"), "€0.00");
        // Half a cent rounds away from zero.
        assert_eq!(money(crate::money::ONE / 200, "USD"), "$0.01");
        assert_eq!(money(-crate::money::ONE / 200, "USD"), "-$0.01");
        assert_eq!(money_change(m(12, 0), "USD"), "+$12.00");
    }

    #[test]
    fn percentages_to_one_decimal() {
        assert_eq!(change_tenths(110, 100), Some(100));
        assert_eq!(percent_change(100), "+10.0%");
        assert_eq!(change_tenths(2, 3), Some(-333));
        assert_eq!(percent(-333), "-33.3%");
        assert_eq!(change_tenths(5, 0), None);
        assert_eq!(share_tenths(1, 8), Some(125));
        assert_eq!(share_tenths(1, 16), Some(63));
        assert_eq!(percent(12_345), "1,234.5%");
    }
}
