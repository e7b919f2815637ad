//! Text as it really arrives: currency codes in any case, symbols that
//! contradict the currency, other encodings.

use super::write;
use crate::Lake;

const HEADER: &str = "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,\
ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ServiceName,ProviderName";

fn row(currency: &str, cost: &str) -> String {
    format!(
        "acct,{currency},2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z,Usage,\
         \"{cost}\",\"{cost}\",Compute,Acme"
    )
}

#[test]
fn currency_codes_are_iso_4217_in_upper_case() {
    let dir = tempfile::tempdir().unwrap();
    let rows =
        [row("USD", "1"), row("usd", "2"), row("Usd", "4"), row("XYZ", "8"), row("USD", "€16"), row("USD", "$32")];
    let file = write(dir.path(), "cur.csv", &format!("{HEADER}\n{}\n", rows.join("\n")));
    let lake = Lake::new();
    let run = lake.ingest(&[&file], &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "cur.csv:row 4 column BillingCurrency: unknown currency code \"XYZ\": billing currencies are ISO 4217 codes"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "cur.csv:row 5 column BilledCost: \"€16\" is written in €, but the row's currency is USD: tally does not \
             guess which is right"
        ),
        "{}",
        run.stdout
    );
    lake.ingest_ok(&[&file], &["--allow-quarantine"]);
    // usd, Usd and USD are one currency: 1 + 2 + 4 + 32 (a $ fits USD).
    assert_eq!(lake.rows(r#"SELECT "BillingCurrency", sum("BilledCost") FROM line_items GROUP BY 1"#), vec!["USD,39"]);
    let bad = lake.ingest(&[&file], &["--currency", "dollars"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("--currency \"dollars\" is not an ISO 4217 code in upper case"), "{}", bad.stderr);
}

#[test]
fn other_encodings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    // Latin-1: "Café" with é as the single byte E9, in the ServiceName column.
    let mut latin1 = format!("{HEADER}\n{}\n", row("USD", "1")).into_bytes();
    latin1.extend_from_slice(b"acct,USD,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,2026-09-01T00:00:00Z,");
    latin1.extend_from_slice(b"2026-09-02T00:00:00Z,Usage,2,2,Caf\xe9,Acme\n");
    let path = dir.path().join("latin1.csv");
    std::fs::write(&path, latin1).unwrap();
    let lake = Lake::new();
    let run = lake.ingest(&[path.to_str().unwrap()], &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "latin1.csv:row 2 column (whole row): invalid UTF-8 in column ServiceName (field 10): the file is not UTF-8"
        ),
        "{}",
        run.stdout
    );
    // UTF-16 little endian with its byte order mark, as Excel's "Unicode text" writes.
    let text = format!("{HEADER}\n{}\n", row("USD", "1"));
    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let path = dir.path().join("utf16.csv");
    std::fs::write(&path, utf16).unwrap();
    let run = lake.ingest(&[path.to_str().unwrap()], &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "utf16.csv: the file is UTF-16 (it starts with the byte order mark FF FE): tally reads UTF-8 text"
        ),
        "{}",
        run.stderr
    );
}
