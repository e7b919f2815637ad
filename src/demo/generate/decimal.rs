//! Exact fixed-point numbers for money, rates and usage quantities.
//!
//! Every amount the generator writes is an integer count of 1e-10 units, so a
//! cost is the exact product of a usage amount and a rate, and file totals are
//! exact sums. Nothing here goes through `f64`.

use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub};

/// Fractional digits carried by every [`Fixed`] value (CUR rates need up to 10).
pub const SCALE_DIGITS: u32 = 10;
const ONE: i128 = 10_i128.pow(SCALE_DIGITS);

/// A decimal number stored as an integer count of `10^-10`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fixed(i128);

impl Fixed {
    pub const ZERO: Fixed = Fixed(0);

    /// `units` counts `10^-10`.
    pub const fn from_units(units: i128) -> Fixed {
        Fixed(units)
    }

    pub const fn whole(n: i64) -> Fixed {
        Fixed(n as i128 * ONE)
    }

    /// Parses plain decimal text (`12`, `-0.5`, `0.0000166667`); `None` for
    /// anything else or more than 10 fractional digits.
    pub fn parse(text: &str) -> Option<Fixed> {
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty() || !all_digits(int_part) || !all_digits(frac_part) {
            return None;
        }
        if frac_part.len() > SCALE_DIGITS as usize || int_part.len() > 20 {
            return None;
        }
        let int_value: i128 = int_part.parse().ok()?;
        let mut frac_value: i128 = if frac_part.is_empty() { 0 } else { frac_part.parse().ok()? };
        frac_value *= 10_i128.pow(SCALE_DIGITS - frac_part.len() as u32);
        let magnitude = int_value * ONE + frac_value;
        Some(Fixed(if negative { -magnitude } else { magnitude }))
    }

    /// [`Fixed::parse`] for literals in the price catalog; panics on a typo.
    pub fn lit(text: &str) -> Fixed {
        Fixed::parse(text).unwrap_or_else(|| panic!("bad decimal literal {text:?}"))
    }

    /// Number of fractional digits needed to write this value exactly.
    pub fn decimals(self) -> u32 {
        let mut digits = SCALE_DIGITS;
        let mut units = self.0;
        while digits > 0 && units % 10 == 0 {
            units /= 10;
            digits -= 1;
        }
        digits
    }

    /// The exact product. Panics if it needs more than 10 fractional digits:
    /// the catalog is built so that never happens, and a silent rounding would
    /// break `cost = usage * rate`.
    pub fn mul_exact(self, other: Fixed) -> Fixed {
        let product = self.0.checked_mul(other.0).expect("fixed-point overflow");
        assert!(product % ONE == 0, "{self} * {other} needs more than {SCALE_DIGITS} decimals");
        Fixed(product / ONE)
    }

    /// `self * numerator / denominator`, rounded half away from zero to
    /// `decimals` fractional digits. For quantities and tax, never for
    /// amounts that must add up exactly.
    pub fn mul_div_round(self, numerator: i128, denominator: i128, decimals: u32) -> Fixed {
        assert!(denominator > 0 && decimals <= SCALE_DIGITS);
        let step = 10_i128.pow(SCALE_DIGITS - decimals);
        let scaled = self.0.checked_mul(numerator).expect("fixed-point overflow");
        Fixed(crate::money::div_round(scaled, denominator * step) * step)
    }

    /// Smallest multiple of `10^-decimals` that is >= self.
    pub fn ceil_to(self, decimals: u32) -> Fixed {
        let step = 10_i128.pow(SCALE_DIGITS - decimals);
        Fixed(self.0.div_euclid(step) * step + if self.0.rem_euclid(step) == 0 { 0 } else { step })
    }

    /// Largest multiple of `10^-decimals` that is <= self.
    pub fn floor_to(self, decimals: u32) -> Fixed {
        let step = 10_i128.pow(SCALE_DIGITS - decimals);
        Fixed(self.0.div_euclid(step) * step)
    }

    /// Appends the shortest exact decimal text: `24`, `0.192`, `-4.608`.
    pub fn write_to(self, out: &mut String) {
        use fmt::Write;
        if self.0 < 0 {
            out.push('-');
        }
        let magnitude = self.0.unsigned_abs();
        let whole = magnitude / ONE as u128;
        let fraction = magnitude % ONE as u128;
        write!(out, "{whole}").expect("writing to a String cannot fail");
        if fraction != 0 {
            let mut digits = [b'0'; SCALE_DIGITS as usize];
            let mut rest = fraction;
            for digit in digits.iter_mut().rev() {
                *digit = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
            let used = digits.iter().rposition(|&d| d != b'0').map_or(0, |last| last + 1);
            out.push('.');
            out.push_str(std::str::from_utf8(&digits[..used]).expect("ASCII digits"));
        }
    }
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        self.write_to(&mut text);
        f.write_str(&text)
    }
}

impl Add for Fixed {
    type Output = Fixed;
    fn add(self, other: Fixed) -> Fixed {
        Fixed(self.0 + other.0)
    }
}

impl AddAssign for Fixed {
    fn add_assign(&mut self, other: Fixed) {
        self.0 += other.0;
    }
}

impl Sub for Fixed {
    type Output = Fixed;
    fn sub(self, other: Fixed) -> Fixed {
        Fixed(self.0 - other.0)
    }
}

impl Neg for Fixed {
    type Output = Fixed;
    fn neg(self) -> Fixed {
        Fixed(-self.0)
    }
}

impl std::iter::Sum for Fixed {
    fn sum<I: Iterator<Item = Fixed>>(iter: I) -> Fixed {
        iter.fold(Fixed::ZERO, Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_writes_shortest_exact_text() {
        for text in ["0", "24", "0.192", "-4.608", "0.0000166667", "12345.6789012345", "-0.5"] {
            assert_eq!(Fixed::lit(text).to_string(), text);
        }
        assert_eq!(Fixed::lit("1.50").to_string(), "1.5");
        assert_eq!(Fixed::parse("1e5"), None);
        assert_eq!(Fixed::parse("0.00000000001"), None);
        assert_eq!(Fixed::parse("-"), None);
    }

    #[test]
    fn products_are_exact() {
        assert_eq!(Fixed::lit("24").mul_exact(Fixed::lit("0.192")), Fixed::lit("4.608"));
        let per_day = Fixed::lit("3.2258064");
        assert_eq!(per_day.mul_exact(Fixed::lit("0.023")), Fixed::lit("0.0741935472"));
        assert_eq!(Fixed::lit("0.125").decimals(), 3);
    }

    #[test]
    #[should_panic(expected = "needs more than")]
    fn inexact_product_panics() {
        let _ = Fixed::lit("0.123456").mul_exact(Fixed::lit("0.123456"));
    }

    #[test]
    fn rounding_helpers() {
        assert_eq!(Fixed::whole(100).mul_div_round(1, 31, 7), Fixed::lit("3.2258065"));
        assert_eq!(Fixed::lit("-0.125").mul_div_round(1, 1, 2), Fixed::lit("-0.13"));
        assert_eq!(Fixed::lit("0.1231").ceil_to(3), Fixed::lit("0.124"));
        assert_eq!(Fixed::lit("0.123").ceil_to(3), Fixed::lit("0.123"));
        assert_eq!(Fixed::lit("-1.239").floor_to(2), Fixed::lit("-1.24"));
    }
}
