//! Numbers as real bills hold them: quantities with 20+ integer digits land
//! exactly; a number too big for its column is called out of range (with the
//! column's limit), not "not a number", and quarantines only its row.

use super::write;
use crate::Lake;

const GCP_HEADER: &str = "billing_account_id,service.description,usage_start_time,usage_end_time,cost,currency,\
usage.amount,usage.unit,usage.amount_in_pricing_units,usage.pricing_unit,invoice.month,cost_type,credits";

fn gcp_row(cost: &str, usage: &str) -> String {
    format!(
        "ba-1,Cloud Storage,2026-09-01 00:00:00+00:00,2026-09-02 00:00:00+00:00,{cost},USD,{usage},byte-seconds,\
         931322.5746154785,gibibyte day,202609,regular,[]"
    )
}

#[test]
fn a_petabyte_for_a_day_in_byte_seconds_lands_exactly() {
    let dir = tempfile::tempdir().unwrap();
    // 10^15 bytes * 86,400 s = 8.64e19 byte-seconds: 20 integer digits.
    let file = write(dir.path(), "gcp.csv", &format!("{GCP_HEADER}\n{}\n", gcp_row("700.5", "8.64e19")));
    let lake = Lake::new();
    lake.ingest_ok(&[&file], &[]);
    assert_eq!(
        lake.value(r#"SELECT CAST("ConsumedQuantity" AS VARCHAR), CAST("PricingQuantity" AS VARCHAR), "BilledCost" FROM line_items"#),
        "86400000000000000000.0000000000000000,931322.5746154785000000,700.5"
    );
}

#[test]
fn numbers_too_big_for_their_column_are_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        gcp_row("1", "5"),
        // 19 integer digits: more than a cost column holds (18).
        gcp_row("1234567890123456789", "5"),
        // 23 integer digits: more than a quantity column holds (22).
        gcp_row("2", "12345678901234567890123"),
    ];
    let file = write(dir.path(), "gcp.csv", &format!("{GCP_HEADER}\n{}\n", rows.join("\n")));
    let lake = Lake::new();
    let run = lake.ingest(&[&file], &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "gcp.csv:row 2 column cost: number out of range: \"1234567890123456789\" (at most 18 digits before the \
             decimal point)"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "gcp.csv:row 3 column usage.amount: number out of range: \"12345678901234567890123\" (at most 22 digits \
             before the decimal point)"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("not a number"), "{}", run.stdout);
}
