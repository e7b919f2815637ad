//! Impossible dates are quarantined with the reason (accepted: 2000-01-01 to
//! 2099-12-31; a charge from 366 days before its billing period to 31 days
//! after it; a charge that does not end before it starts).

use super::write;
use crate::Lake;

const HEADER: &str = "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,\
ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ServiceName,ProviderName";

fn row(charge_start: &str, charge_end: &str, cost: &str) -> String {
    format!(
        "acct,USD,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,{charge_start},{charge_end},Usage,{cost},{cost},Compute,Acme"
    )
}

#[test]
fn impossible_dates_are_quarantined_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        row("2026-09-01T00:00:00Z", "2026-09-02T00:00:00Z", "1"),
        row("9999-12-31T00:00:00Z", "9999-12-31T01:00:00Z", "2"),
        row("2026-09-03T00:00:00Z", "2026-09-02T00:00:00Z", "4"),
        row("0000-01-01T00:00:00Z", "2026-09-02T00:00:00Z", "8"),
        row("2024-01-05T00:00:00Z", "2024-01-06T00:00:00Z", "16"),
        row("2026-11-15T00:00:00Z", "2026-11-16T00:00:00Z", "32"),
        "acct,USD,2026-10-01T00:00:00Z,2026-09-01T00:00:00Z,2026-09-05T00:00:00Z,2026-09-06T00:00:00Z,Usage,64,64,Compute,Acme"
            .to_string(),
        // A correction for usage eleven months before the period is still accepted.
        row("2025-10-05T00:00:00Z", "2025-10-06T00:00:00Z", "128"),
    ];
    let file = write(dir.path(), "dates.csv", &format!("{HEADER}\n{}\n", rows.join("\n")));
    let lake = Lake::new();
    let run = lake.ingest(&[&file], &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    for expected in [
        "dates.csv:row 2 column ChargePeriodStart: 9999-12-31T00:00:00Z is outside the dates tally accepts (2000-01-01 to 2099-12-31)",
        "dates.csv:row 3 column ChargePeriodEnd: the charge ends (2026-09-02T00:00:00Z) before it starts (2026-09-03T00:00:00Z)",
        "dates.csv:row 4 column ChargePeriodStart: 0000-01-01T00:00:00Z is outside the dates tally accepts",
        "dates.csv:row 5 column ChargePeriodStart: the charge starts 2024-01-05T00:00:00Z, far outside its billing period 2026-09",
        "dates.csv:row 6 column ChargePeriodStart: the charge starts 2026-11-15T00:00:00Z, far outside its billing period 2026-09",
        "dates.csv:row 7 column BillingPeriodEnd: the billing period ends (2026-09-01T00:00:00Z) before it starts (2026-10-01T00:00:00Z)",
    ] {
        assert!(run.stdout.contains(expected), "{expected}\n{}", run.stdout);
    }
    // A quarantine refusal records the rows (quarantine, ingests) and commits no line item.
    assert!(lake.data_files().is_empty());
    assert_eq!(lake.value("SELECT count(*) FROM quarantine"), "6");
    lake.ingest_ok(&[&file], &["--allow-quarantine"]);
    // 1 + 128 land; 2 + 4 + 8 + 16 + 32 + 64 = 126 are quarantined.
    assert_eq!(lake.value(r#"SELECT count(*), sum("BilledCost") FROM line_items"#), "2,129");
    assert_eq!(lake.value("SELECT count(*) FROM quarantine"), "6");
    assert_eq!(
        lake.value("SELECT source_cost, landed_cost, quarantined_cost FROM ingests WHERE status = 'committed'"),
        "255,129,126"
    );
    // No report can read "week ending 9999-12-31".
    assert_eq!(lake.value(r#"SELECT max("ChargePeriodStart") < TIMESTAMP '2100-01-01' FROM line_items"#), "true");
}
