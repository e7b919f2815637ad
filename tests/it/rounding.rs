//! One rounding rule (half away from zero, `tally::money::div_round`) for every figure
//! people read: a credit of -1.005 is -1.01 in a budget, a finding, a report and a nudge,
//! the negative of what a charge of 1.005 shows. Expected strings written by hand.

use chrono::NaiveDate;
use tally::budget::{self, BudgetStatus, Status};
use tally::calendar::Month;

/// 1.005 at the lake's scale (20 decimals).
const HALF_CENT_OVER: i128 = 1_005 * 10i128.pow(17);

fn status(actual: i128) -> BudgetStatus {
    let day = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
    BudgetStatus {
        month: Month::parse("2026-03").unwrap(),
        owner: "payments".into(),
        kind: "team",
        path: "payments".into(),
        currency: "USD".into(),
        cost: budget::file::CostColumn::EffectiveCost,
        budget: 0,
        tolerance: 0,
        actual,
        forecast: actual,
        variance_pct: None,
        status: Status::OnTrack,
        approved: 0,
        children_budget: None,
        days_of_data: 31,
        data_end: Some(day),
        as_of: day,
        note: String::new(),
    }
}

/// The budget table as the terminal shows it.
fn budget_terminal(actual: i128) -> String {
    let batch = budget::to_batch(&[status(actual)], false);
    let mut out = Vec::new();
    tally::output::write(&mut out, &batch.schema(), &[batch], tally::output::OutputFormat::Table).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_credit_rounds_like_the_charge_it_reverses_everywhere() {
    for (amount, cents, report, nudge) in
        [(HALF_CENT_OVER, 101, "$1.01", "$1.01"), (-HALF_CENT_OVER, -101, "-$1.01", "-$1.01")]
    {
        assert!(budget_terminal(amount).contains(&format!(" {report} ")), "budget terminal");
        assert_eq!(tally::money::text::money(amount, "USD"), report, "report");
        assert_eq!(tally::nudge::message::money(amount, "USD"), nudge, "nudge");
        // Findings' titles show amounts as reports do (`money::text::money`); their table rounds to cents.
        assert_eq!(tally::money::to_cents(amount), cents, "findings table");
    }
}

#[test]
fn ratios_round_symmetrically_whatever_the_sign_of_the_divisor() {
    // A variance against a negative base (a credit month): -2.5 rounds to -3 whichever side is negative.
    assert_eq!(tally::money::div_round(5, -2), -3);
    assert_eq!(tally::money::div_round(-5, 2), -3);
    assert_eq!(tally::money::text::change_tenths(0, 0), None);
}
