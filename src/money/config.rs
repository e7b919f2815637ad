//! Amounts and percentages as people write them in tally's TOML files
//! (budgets, approvals, findings, nudges): exact strings or integers, never floats.

use std::fmt;

use serde::Deserialize;

use super::{div_round, parse, parse_with_scale};

/// An exact amount at [`super::SCALE`], written `"1234.56"` or `1234`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money(pub i128);

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an amount as a string (\"1234.56\") or an integer")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Money, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Money, E> {
                parse(text).map(|p| Money(p.value)).map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Money, E> {
                Err(E::custom(format!("write the amount {v} as a string (\"{v}\"): TOML floats are inexact")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A percentage in ten-thousandths of a percent: `"2.5%"` is 25_000.
/// Fractions of it are `value / 1_000_000`, so products stay well inside i128.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Percent(pub i128);

/// `Percent` units in 100%.
pub const PERCENT_WHOLE: i128 = 1_000_000;

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Percent, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a percentage like \"2%\" or \"2.5%\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Percent, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Percent, E> {
                let number = text.trim().trim_end_matches('%');
                let parsed = parse_with_scale(number, 4)
                    .map_err(|_| E::custom(format!("{text:?} is not a percentage like \"2%\"")))?;
                if parsed.rounded {
                    return Err(E::custom(format!("{text:?}: at most 4 decimals in a percentage")));
                }
                if parsed.value < 0 {
                    return Err(E::custom(format!("{text:?}: a percentage cannot be negative")));
                }
                Ok(Percent(parsed.value))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Percent, E> {
                Err(E::custom(format!("write the percentage {v} as a string (\"{v}%\"): TOML floats are inexact")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Percent {
    /// `amount * self`, rounded by [`div_round`].
    pub fn of(self, amount: i128) -> i128 {
        div_round(amount * self.0, PERCENT_WHOLE)
    }
}
