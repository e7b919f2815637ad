//! A header that names a column twice is refused: which copy holds the cost
//! or the team tag would be a guess (before, the first cost column won and the
//! last team tag won, so a line changed owner).

use super::{CUR_HEADER, cur_row, write};
use crate::Lake;

#[test]
fn a_column_named_twice_is_refused_with_both_positions() {
    let dir = tempfile::tempdir().unwrap();
    let row = cur_row("li-1", "2026-09", 1, "5", "web");
    let cases = [
        // Two cost columns (the 12th is lineItem/UnblendedCost).
        (
            format!("{CUR_HEADER},lineItem/UnblendedCost"),
            format!("{row},999"),
            "column 12 (lineItem/UnblendedCost) and column 14 (lineItem/UnblendedCost) are both line_item_unblended_cost",
        ),
        // Legacy and Athena spellings of one column.
        (
            format!("{CUR_HEADER},line_item_unblended_cost"),
            format!("{row},999"),
            "column 12 (lineItem/UnblendedCost) and column 14 (line_item_unblended_cost) are both line_item_unblended_cost",
        ),
        // Two team tags: the line's owner would depend on which one wins.
        (
            format!("{CUR_HEADER},resourceTags/user:team"),
            format!("{row},payments"),
            "column 13 (resourceTags/user:team) and column 14 (resourceTags/user:team) are both the tag team",
        ),
    ];
    for (i, (header, row, message)) in cases.iter().enumerate() {
        let file = write(dir.path(), &format!("cur-{i}.csv"), &format!("{header}\n{row}\n"));
        let lake = Lake::new();
        let run = lake.ingest(&[&file], &[]);
        assert_eq!(run.code, 1, "{header}: {}", run.stdout);
        assert!(
            run.stderr.contains(&format!("error: {file}: the header names one column twice: {message}")),
            "{}",
            run.stderr
        );
        assert!(!lake.path.join("line_items").exists());
    }
    // Tag keys keep their case: `Team` and `team` are two tags, not one column twice.
    let file = write(
        dir.path(),
        "cased.csv",
        &format!(
            "{CUR_HEADER},resourceTags/user:Team\n{row},payments\n",
            row = cur_row("li-1", "2026-09", 1, "5", "web")
        ),
    );
    Lake::new().ingest_ok(&[&file], &[]);
    // FOCUS names are case-insensitive in tally, so BilledCost and billedcost are one column.
    let focus = write(
        dir.path(),
        "focus.csv",
        "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,BilledCost,billedcost\n\
         a,USD,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z,1,2\n",
    );
    let run = Lake::new().ingest(&[&focus], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("column 7 (BilledCost) and column 8 (billedcost) are both billedcost"),
        "{}",
        run.stderr
    );
}
