//! A message before it has a destination's markup: sections of lines made of
//! spans, each span either text tally wrote (trusted) or a value from billing
//! data (escaped by the renderer). `render` turns it into each kind's payload.

use chrono::NaiveDate;

use crate::money::{div_round, text};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    /// Words tally wrote.
    Text(String),
    /// Words tally wrote, emphasised.
    Bold(String),
    /// A value from the lake or the findings: always escaped.
    Data(String),
}

pub type Line = Vec<Span>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    pub lines: Vec<Line>,
}

/// Something a message tells, remembered in the outbox so it is not told again
/// until it changes materially: a budget status, a week's change, an account's
/// unallocated spend, a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// `budget:<team>:<month>`, `week:<team>`, `unallocated:<team>:<account>:<month>`, `finding:<finding_id>`.
    pub id: String,
    pub kind: &'static str,
    /// The state it was told in: a budget status, a finding's status.
    pub state: String,
    /// The amount it was told with (at [`crate::money::SCALE`]), to judge a material change.
    pub value: Option<i128>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub team: String,
    pub org_path: String,
    pub as_of: NaiveDate,
    pub title: String,
    pub sections: Vec<Section>,
    /// Link or path to the full report.
    pub report: Option<String>,
    pub items: Vec<Item>,
}

impl Message {
    /// The whole message as plain text (values cleaned of control characters).
    pub fn plain_text(&self) -> String {
        let mut out = self.title.clone();
        for section in &self.sections {
            out.push_str("\n\n");
            out.push_str(&section.heading);
            for line in &section.lines {
                out.push_str("\n- ");
                out.push_str(&plain_line(line));
            }
        }
        if let Some(report) = &self.report {
            out.push_str("\n\nFull report: ");
            out.push_str(report);
        }
        out
    }
}

pub fn plain_line(line: &Line) -> String {
    line.iter()
        .map(|span| match span {
            Span::Text(t) | Span::Bold(t) => t.clone(),
            Span::Data(d) => super::escape::clean(d),
        })
        .collect()
}

/// `$1,234.56`, `-$12.00`, `1,234.56 CHF`: [`text::money`], in dollars when the lake names no currency.
pub fn money(value: i128, currency: &str) -> String {
    text::money(value, if currency.is_empty() { "USD" } else { currency })
}

/// A change with its sign: `+$1,234.56`, `-$12.00`.
pub fn signed_money(value: i128, currency: &str) -> String {
    if value > 0 { format!("+{}", money(value, currency)) } else { money(value, currency) }
}

/// `part / whole` as a percentage with one decimal (`6.1`), rounded half away from zero.
pub fn percent(part: i128, whole: i128) -> Option<String> {
    if whole == 0 {
        return None;
    }
    let tenths = div_round(part.checked_mul(1000)?, whole.abs());
    Some(format!("{}{}.{}", if tenths < 0 { "-" } else { "" }, tenths.abs() / 10, tenths.abs() % 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: i128 = crate::money::ONE;

    #[test]
    fn money_for_people() {
        assert_eq!(money(1_234_567 * D / 100, "USD"), "$12,345.67");
        assert_eq!(money(-5 * D, "USD"), "-$5.00");
        assert_eq!(money(1_000_000 * D, "EUR"), "€1,000,000.00");
        assert_eq!(money(999 * D, "JPY"), "¥999.00");
        assert_eq!(money(D / 200, "USD"), "$0.01");
        assert_eq!(signed_money(100 * D, "USD"), "+$100.00");
        assert_eq!(percent(61, 1000).unwrap(), "6.1");
        assert_eq!(percent(-1, 3).unwrap(), "-33.3");
    }
}
