//! Exact decimal amounts: parsed from billing text straight into `i128` at a
//! fixed scale, summed without rounding, stored as Arrow `Decimal128`.
//!
//! Money never passes through `f64`: a float cannot hold 0.1 exactly, and
//! reconciliation to the cent needs every digit the source wrote.

use std::fmt;

use datafusion::arrow::datatypes::i256;

pub mod config;
pub mod split;
pub mod text;

pub use config::{Money, PERCENT_WHOLE, Percent};

/// Precision of every decimal column in the lake (the Decimal128 maximum).
pub const PRECISION: u8 = 38;
/// Fractional digits kept for costs and unit prices. Real CUR files carry
/// up to 19 (float artefacts such as `0.0007458096045417008`); 20 keeps them all
/// and still leaves 18 integer digits, far above any bill.
pub const SCALE: i8 = 20;
/// Fractional digits kept for quantities (usage, pricing and consumed
/// quantity). Quantities need more integer digits than money: GCP bills
/// storage in byte-seconds, and 1 PB kept for a day is 8.64e19 of them. 16
/// places leave 22 integer digits (past 1e21 byte-seconds, 10 PB for a day,
/// or 1 EB for an hour) and still keep every digit of a usage amount a bill
/// writes to 16 places; further digits (float artefacts) are rounded half to
/// even and counted.
pub const QUANTITY_SCALE: i8 = 16;

/// A parsed decimal: `value / 10^SCALE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    pub value: i128,
    /// True when the text had more fractional digits than [`SCALE`] and was
    /// rounded (half to even). Callers count this as a normalisation.
    pub rounded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("not a number: {0:?}")]
    NotANumber(String),
    #[error("number out of range: {text:?} (at most {} digits before the decimal point)", PRECISION as u32 - scale)]
    OutOfRange { text: String, scale: u32 },
}

/// Parses `12`, `-0.5`, `+3.`, `.25`, `1.2E-7`, `7.0e+3` (surrounding spaces allowed).
pub fn parse(text: &str) -> Result<Parsed, DecimalError> {
    parse_with_scale(text, SCALE as u32)
}

pub fn parse_with_scale(text: &str, scale: u32) -> Result<Parsed, DecimalError> {
    let bad = || DecimalError::NotANumber(text.to_string());
    let out_of_range = || DecimalError::OutOfRange { text: text.to_string(), scale };
    let s = text.trim().as_bytes();
    let (negative, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut mantissa: i128 = 0;
    let mut digits = 0usize; // significant digits held in the mantissa
    let mut any_digit = false;
    let mut frac_digits: i64 = 0;
    let mut seen_point = false;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            c @ b'0'..=b'9' => {
                any_digit = true;
                if seen_point {
                    frac_digits += 1;
                }
                if mantissa != 0 || c != b'0' {
                    digits += 1;
                    if digits > 38 {
                        return Err(out_of_range());
                    }
                }
                mantissa = mantissa * 10 + (c - b'0') as i128;
            }
            b'.' if !seen_point => seen_point = true,
            b'e' | b'E' => break,
            _ => return Err(bad()),
        }
        i += 1;
    }
    if !any_digit {
        return Err(bad());
    }
    let mut exponent: i64 = 0;
    if i < s.len() {
        let exp_text = std::str::from_utf8(&s[i + 1..]).map_err(|_| bad())?;
        if exp_text.is_empty() {
            return Err(bad());
        }
        exponent = exp_text.parse::<i64>().map_err(|_| bad())?;
        if exponent.abs() > 100 {
            return Err(out_of_range());
        }
    }
    // value = mantissa * 10^(exponent - frac_digits); rescale to `scale`.
    let shift = scale as i64 + exponent - frac_digits;
    let (magnitude, rounded) = if shift >= 0 {
        let factor = pow10(shift as u32).ok_or_else(out_of_range)?;
        (mantissa.checked_mul(factor).ok_or_else(out_of_range)?, false)
    } else {
        let Some(divisor) = pow10((-shift) as u32) else {
            // Everything is below the smallest representable unit.
            return Ok(Parsed { value: 0, rounded: mantissa != 0 });
        };
        let quotient = mantissa / divisor;
        let remainder = mantissa % divisor;
        let half = divisor / 2;
        let round_up = remainder > half || (remainder == half && quotient % 2 == 1);
        (quotient + round_up as i128, remainder != 0)
    };
    // The lake's decimals hold 38 digits, whatever fits in 128 bits.
    if magnitude >= pow10(PRECISION as u32).expect("10^38 fits") {
        return Err(out_of_range());
    }
    Ok(Parsed { value: if negative { -magnitude } else { magnitude }, rounded })
}

/// Like [`parse`], but also accepts what spreadsheets write: a leading
/// currency symbol and comma thousands separators (`$10,100.00`, `-$5`).
/// Grouping must be regular (`1,234,567.5`), so `1,5` stays an error rather
/// than being guessed as a decimal comma. The flag says the lenient path was taken.
pub fn parse_lenient(text: &str) -> Result<(Parsed, bool), DecimalError> {
    parse_lenient_with_scale(text, SCALE as u32)
}

/// [`parse_lenient`] at another scale (quantities: [`QUANTITY_SCALE`]).
pub fn parse_lenient_with_scale(text: &str, scale: u32) -> Result<(Parsed, bool), DecimalError> {
    match parse_with_scale(text, scale) {
        Ok(parsed) => return Ok((parsed, false)),
        // Digits that do not fit are not a formatting problem: say so.
        Err(e @ DecimalError::OutOfRange { .. }) => return Err(e),
        Err(DecimalError::NotANumber(_)) => {}
    }
    let trimmed = text.trim();
    let (negative, rest) = match trimmed.strip_prefix('-') {
        Some(r) => (true, r.trim_start()),
        None => (false, trimmed),
    };
    let rest = rest.trim_start_matches(['$', '€', '£', '¥']).trim_start();
    let (negative, rest) = match rest.strip_prefix('-') {
        Some(r) if !negative => (true, r),
        _ => (negative, rest),
    };
    let (integer, fraction) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let groups: Vec<&str> = integer.split(',').collect();
    let regular = groups.len() > 1 && (1..=3).contains(&groups[0].len()) && groups[1..].iter().all(|g| g.len() == 3)
        || groups.len() == 1 && rest.len() < trimmed.len();
    if !regular || groups.iter().any(|g| !g.bytes().all(|b| b.is_ascii_digit())) {
        return Err(DecimalError::NotANumber(text.to_string()));
    }
    let plain = format!(
        "{}{}{}",
        if negative { "-" } else { "" },
        groups.concat(),
        fraction.map(|f| format!(".{f}")).unwrap_or_default()
    );
    parse_with_scale(&plain, scale).map(|p| (p, true)).map_err(|e| match e {
        DecimalError::OutOfRange { scale, .. } => DecimalError::OutOfRange { text: text.to_string(), scale },
        DecimalError::NotANumber(_) => DecimalError::NotANumber(text.to_string()),
    })
}

fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

/// Formats a scaled integer as a plain decimal with trailing zeros removed:
/// `format(1_500, 3) == "1.5"`.
pub fn format(value: i128, scale: u32) -> String {
    let digits = value.unsigned_abs().to_string();
    let sign = if value < 0 { "-" } else { "" };
    let scale = scale as usize;
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int_part, frac_part) = padded.split_at(padded.len() - scale);
    let frac_part = frac_part.trim_end_matches('0');
    if frac_part.is_empty() { format!("{sign}{int_part}") } else { format!("{sign}{int_part}.{frac_part}") }
}

/// One unit of money at [`SCALE`]: `1` in every money column.
pub const ONE: i128 = 10i128.pow(SCALE as u32);
/// One cent at [`SCALE`].
pub const CENT: i128 = ONE / 100;

/// `numerator / denominator` rounded half away from zero: tally's one rounding rule for
/// every figure it shows or derives (budgets, findings, reports, nudges). Half away from
/// zero, not half to even, because it is what people and spreadsheets do by hand, and it
/// is symmetric: a credit rounds to the negative of the same charge, whichever sign the
/// divisor has. (Parsing more digits than the lake keeps rounds half to even: see [`Parsed`].)
///
/// Panics when `denominator` is zero.
pub fn div_round(numerator: i128, denominator: i128) -> i128 {
    assert!(denominator != 0, "division by zero");
    let (q, r) = (numerator / denominator, numerator % denominator);
    // |r| < |d|, so 2|r| compares in u128 without overflow.
    if 2 * r.unsigned_abs() >= denominator.unsigned_abs() {
        q + if (numerator < 0) == (denominator < 0) { 1 } else { -1 }
    } else {
        q
    }
}

/// Rescales `value` from `from` fractional digits to `to` ([`div_round`] when digits go).
pub fn rescale(value: i128, from: u32, to: u32) -> i128 {
    if to >= from { value * 10i128.pow(to - from) } else { div_round(value, 10i128.pow(from - to)) }
}

/// An amount at [`SCALE`] in whole cents ([`div_round`]).
pub fn to_cents(value: i128) -> i128 {
    div_round(value, CENT)
}

/// `a * b` of two [`SCALE`] numbers, at [`SCALE`], rounded as [`div_round`] (through 256 bits).
pub fn mul(a: i128, b: i128) -> i128 {
    div_round_wide(i256::from_i128(a) * i256::from_i128(b), i256::from_i128(ONE))
}

/// `a / b` of two [`SCALE`] numbers, at [`SCALE`], rounded as [`div_round`] (through 256 bits).
pub fn div(a: i128, b: i128) -> i128 {
    div_round_wide(i256::from_i128(a) * i256::from_i128(ONE), i256::from_i128(b))
}

fn div_round_wide(numerator: i256, denominator: i256) -> i128 {
    quotient_wide(numerator, denominator).as_i128()
}

/// `numerator / denominator` in 256 bits, rounded as [`div_round`].
fn quotient_wide(numerator: i256, denominator: i256) -> i256 {
    let (q, r) = (numerator / denominator, numerator % denominator);
    let half = r.wrapping_abs() * i256::from_i128(2) >= denominator.wrapping_abs();
    let negative = (numerator < i256::ZERO) != (denominator < i256::ZERO);
    if half { if negative { q - i256::ONE } else { q + i256::ONE } } else { q }
}

/// Fractional digits of an exchange rate: a published rate has at most six, and a cross rate
/// or a month's average is rounded to twelve ([`div_round`]), which moves a converted
/// million by less than a millionth of a cent.
pub const RATE_SCALE: i8 = 12;
/// The rate 1 at [`RATE_SCALE`].
pub const RATE_ONE: i128 = 10i128.pow(RATE_SCALE as u32);

/// `amount` (at [`SCALE`]) converted at `rate` (at [`RATE_SCALE`]): at [`SCALE`], rounded as
/// [`div_round`], through 256 bits; an [`Overflow`] when the result leaves 38 digits.
pub fn convert(amount: i128, rate: i128) -> Result<i128, Overflow> {
    if rate == RATE_ONE {
        return Ok(amount);
    }
    let q = quotient_wide(i256::from_i128(amount) * i256::from_i128(rate), i256::from_i128(RATE_ONE));
    q.to_i128().filter(|v| v.unsigned_abs() < 10u128.pow(PRECISION as u32)).ok_or(Overflow)
}

/// A rate at [`RATE_SCALE`] from the product of `numerators` over the product of
/// `denominators` (rates at [`RATE_SCALE`] each), rounded once as [`div_round`]: a cross rate
/// or an inverse without rounding its legs first.
pub fn rate_quotient(numerators: &[i128], denominators: &[i128]) -> i128 {
    // (Π n / ONE^|n|) / (Π d / ONE^|d|) at RATE_SCALE = Π n * ONE^(|d| + 1) / (Π d * ONE^|n|).
    let one = i256::from_i128(RATE_ONE);
    let mut numerator = one;
    let mut denominator = i256::ONE;
    for n in numerators {
        numerator *= i256::from_i128(*n);
        denominator *= one;
    }
    for d in denominators {
        numerator *= one;
        denominator *= i256::from_i128(*d);
    }
    div_round_wide(numerator, denominator)
}

/// A sum that left the range of the lake's decimals (38 digits: about
/// ±1.7 × 10^18 at [`SCALE`]). No real bill comes near it, so it means corrupt
/// or hostile amounts; callers name the file or period it happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "amounts add up to more than a decimal of 38 digits holds (about 1.7e18 at 20 decimal places); no real bill \
     comes near this, so the data holds corrupt or hostile amounts"
)]
pub struct Overflow;

/// `sum += amount`, checked: never a wrapped number.
#[inline]
pub fn add(sum: &mut i128, amount: i128) -> Result<(), Overflow> {
    *sum = sum.checked_add(amount).ok_or(Overflow)?;
    Ok(())
}

/// The exact sum of `amounts`, checked.
pub fn sum(amounts: impl IntoIterator<Item = i128>) -> Result<i128, Overflow> {
    amounts.into_iter().try_fold(0i128, |sum, a| sum.checked_add(a).ok_or(Overflow))
}

/// An exact amount at [`SCALE`], printable as a plain decimal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(pub i128);

impl Amount {
    pub fn parse(text: &str) -> Result<Amount, DecimalError> {
        parse(text).map(|p| Amount(p.value))
    }

    /// Adds, failing loudly rather than wrapping: a sum past 10^18 is a bug or corrupt data.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }
}

impl std::ops::AddAssign for Amount {
    fn add_assign(&mut self, other: Amount) {
        self.0 = self.0.checked_add(other.0).expect("decimal sum overflowed 10^18: corrupt input or a bug");
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format(self.0, SCALE as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_half_away_from_zero_and_refuse_overflow() {
        let rate = parse_with_scale("1.0849", RATE_SCALE as u32).unwrap().value;
        // 12.34 EUR at 1.0849 = 13.387666 USD exactly (Python: Decimal("12.34") * Decimal("1.0849")).
        assert_eq!(format(convert(parse("12.34").unwrap().value, rate).unwrap(), SCALE as u32), "13.387666");
        // 1e-20 * 0.5 rounds away from zero, both signs.
        let half = RATE_ONE / 2;
        assert_eq!(convert(1, half), Ok(1));
        assert_eq!(convert(-1, half), Ok(-1));
        assert_eq!(convert(3, RATE_ONE / 4), Ok(1), "0.75 units round up");
        let big = parse("900000000000000000").unwrap().value;
        assert_eq!(convert(big, 2 * RATE_ONE), Err(Overflow));
    }

    #[test]
    fn sums_are_checked() {
        // 9 * 10^17 fits the lake's decimals; two of them do not fit 128 bits.
        let big = parse("900000000000000000").unwrap().value;
        assert_eq!(sum([big, -big, big]), Ok(big));
        assert_eq!(sum([big; 5]), Err(Overflow));
        let mut total = big;
        assert_eq!(add(&mut total, big), Err(Overflow));
        assert_eq!(total, big, "a failed add leaves the sum as it was");
    }

    #[test]
    fn exact_arithmetic() {
        assert_eq!(mul(3 * ONE / 2, 2 * ONE), 3 * ONE);
        assert_eq!(div(ONE, 3 * ONE), 33_333_333_333_333_333_333);
        assert_eq!(div(2 * ONE, 3 * ONE), 66_666_666_666_666_666_667);
        assert_eq!(div(-2 * ONE, 3 * ONE), -66_666_666_666_666_666_667);
        assert_eq!(mul(10_000 * ONE, 10_000 * ONE), 100_000_000 * ONE);
    }

    #[test]
    fn halves_round_away_from_zero_whatever_the_signs() {
        for (n, d, q) in [(5, 2, 3), (-5, 2, -3), (5, -2, -3), (-5, -2, 3), (1, -10, 0), (-1, 10, 0), (7, -2, -4)] {
            assert_eq!(div_round(n, d), q, "{n}/{d}");
        }
        assert_eq!(div_round(i128::MAX, 1), i128::MAX);
        assert_eq!(div_round(i128::MIN + 1, -1), i128::MAX);
    }

    proptest::proptest! {
        /// A credit rounds to the negative of the same charge, for either sign of the divisor,
        /// and the result is the nearest integer (ties away from zero).
        #[test]
        fn rounding_is_symmetric_and_nearest(n in -(1i128 << 100)..(1i128 << 100), d in 1i128..(1i128 << 60)) {
            let q = div_round(n, d);
            proptest::prop_assert_eq!(div_round(-n, d), -q);
            proptest::prop_assert_eq!(div_round(n, -d), -q);
            proptest::prop_assert_eq!(div_round(-n, -d), q);
            let miss = (n - q * d).abs();
            proptest::prop_assert!(2 * miss <= d);
            if 2 * miss == d {
                proptest::prop_assert!(q.abs() * d > n.abs(), "a tie goes away from zero");
            }
        }
    }

    #[test]
    fn cents_round_half_away_from_zero() {
        let at = |text: &str| parse(text).unwrap().value;
        assert_eq!(to_cents(at("1.005")), 101);
        assert_eq!(to_cents(at("-1.005")), -101);
        assert_eq!(to_cents(at("-0.004")), 0);
        assert_eq!(to_cents(at("1234.5")), 123_450);
    }

    fn at(text: &str, scale: u32) -> (i128, bool) {
        let p = parse_with_scale(text, scale).unwrap();
        (p.value, p.rounded)
    }

    #[test]
    fn plain_numbers() {
        assert_eq!(at("12", 2), (1200, false));
        assert_eq!(at("-0.5", 2), (-50, false));
        assert_eq!(at("+3.", 2), (300, false));
        assert_eq!(at(".25", 2), (25, false));
        assert_eq!(at(" 0.00 ", 2), (0, false));
        assert_eq!(at("000123.4500", 4), (1_234_500, false));
    }

    #[test]
    fn scientific_notation() {
        assert_eq!(at("7.0E-10", 12), (700, false));
        assert_eq!(at("4.4E-7", 8), (44, false));
        assert_eq!(at("1e3", 0), (1000, false));
        assert_eq!(at("2.5e+2", 1), (2500, false));
    }

    #[test]
    fn rounds_half_to_even_when_too_precise() {
        assert_eq!(at("0.125", 2), (12, true));
        assert_eq!(at("0.135", 2), (14, true));
        assert_eq!(at("0.1251", 2), (13, true));
        assert_eq!(at("-0.125", 2), (-12, true));
        assert_eq!(at("1e-30", 2), (0, true));
    }

    #[test]
    fn full_scale_keeps_float_artefacts_exactly() {
        let p = parse("0.0007458096045417008").unwrap();
        assert_eq!(p.value, 74_580_960_454_170_080);
        assert!(!p.rounded);
    }

    #[test]
    fn out_of_range_is_not_not_a_number() {
        assert_eq!(
            parse("1234567890123456789").unwrap_err().to_string(),
            "number out of range: \"1234567890123456789\" (at most 18 digits before the decimal point)"
        );
        assert_eq!(parse("999999999999999999.99999999999999999999").unwrap().value, 10i128.pow(38) - 1);
        assert!(matches!(parse_lenient("$1,234,567,890,123,456,789"), Err(DecimalError::OutOfRange { .. })));
        assert!(matches!(parse_lenient("1e30"), Err(DecimalError::OutOfRange { .. })));
        // A day of a petabyte in byte-seconds is a quantity, not money.
        let q = parse_with_scale("8.64e19", QUANTITY_SCALE as u32).unwrap();
        assert_eq!(q.value, 864 * 10i128.pow(17 + 16));
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "-", ".", "abc", "1.2.3", "1,000", "1e", "$5", "NaN", "1e999"] {
            assert!(parse(text).is_err(), "{text:?} should not parse");
        }
    }

    #[test]
    fn lenient_accepts_spreadsheet_money() {
        let value = |t: &str| parse_lenient(t).map(|(p, lenient)| (p.value / 10i128.pow(18), lenient));
        assert_eq!(value("$10,100.00 "), Ok((1_010_000, true)));
        assert_eq!(value("-$5"), Ok((-500, true)));
        assert_eq!(value("$-5"), Ok((-500, true)));
        assert_eq!(value("1,234,567.5"), Ok((123_456_750, true)));
        assert_eq!(value("12.5"), Ok((1250, false)));
        for text in ["1,5", "12,34.5", "$", "$1,2345", "1.234,56"] {
            assert!(parse_lenient(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn formats_without_trailing_zeros() {
        assert_eq!(format(1500, 3), "1.5");
        assert_eq!(format(-5, 2), "-0.05");
        assert_eq!(format(100, 2), "1");
        assert_eq!(format(0, 4), "0");
        assert_eq!(Amount::parse("0.0007458096045417008").unwrap().to_string(), "0.0007458096045417008");
    }
}
