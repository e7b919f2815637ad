//! One reporting currency (currency.toml): every attributed row converted at its month's locked
//! rate, checked against Python's `decimal` over the lake's files; missing rates refused all at
//! once; a locked month keeps its rates until restated.
//!
//! The lake: a hand-built August 2026 in four billing currencies (USD, EUR, CAD, NOK; FOCUS
//! columns per the spec), the real Azure EA sample billed in CAD (September 2023,
//! focus_converters) and the real AWS CUR sample in USD (November 2023). Rates:
//! `fixtures/rates/eurofxref-sample.csv`, in the ECB's published reference-rate format
//! (illustrative values, 1 EUR in each currency).

use std::path::Path;

use crate::{Lake, tally};

const ORG: &str = "[nodes]\nacme = {}\n\n[teams.web]\nparent = \"acme\"\n\n[teams.data]\nparent = \"acme\"\n";
const RULES: &str = r#"
[[rule]]
id = "eu-and-us"
precedence = 10
accounts = ["acct-us", "acct-eu"]
team = "web"

[[rule]]
id = "everything-else"
precedence = 20
charge_categories = ["Usage", "Tax", "Purchase", "Credit", "Adjustment"]
team = "data"
"#;

fn currency_toml(rates: &str) -> String {
    format!(
        "reporting = \"USD\"\nrates = \"{rates}\"\npolicy = \"month-end\"\nmonths = {{ \"2023-09\" = \"monthly-average\" }}\n"
    )
}

/// August 2026 in four currencies: (account, currency, day, billed).
const AUGUST: &[(&str, &str, u32, &str)] = &[
    ("acct-us", "USD", 3, "100.00"),
    ("acct-us", "USD", 20, "0.07"),
    ("acct-eu", "EUR", 4, "250.50"),
    ("acct-eu", "EUR", 5, "-12.34"),
    ("acct-ca", "CAD", 10, "80.125"),
    ("acct-no", "NOK", 12, "1234.5678"),
];

/// One file per billing currency (a billing account's export has one), as their paths.
fn write_august(dir: &Path) -> Vec<String> {
    let mut files: std::collections::BTreeMap<&str, String> = Default::default();
    for (account, currency, day, billed) in AUGUST {
        let csv = files.entry(currency).or_insert_with(|| format!("{}\n", crate::support::FOCUS_HEADER));
        csv.push_str(&format!(
            "billing-{currency},{account},{currency},2026-08-01T00:00:00Z,2026-09-01T00:00:00Z,2026-08-{day:02}T00:00:00Z,\
             2026-08-{:02}T00:00:00Z,Usage,{billed},{billed},Compute,vm-{account},{{}}\n",
            day + 1
        ));
    }
    files
        .into_iter()
        .map(|(currency, csv)| {
            let path = dir.join(format!("august-{currency}.csv"));
            std::fs::write(&path, csv).unwrap();
            path.display().to_string()
        })
        .collect()
}

struct Setup {
    lake: Lake,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let august = write_august(dir.path());
        let lake = Lake::new();
        lake.ingest_ok(&august.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
        lake.ingest_ok(&[&crate::shared("azure/focus-converters-ea-export.csv")], &[]);
        lake.ingest_ok(&[&crate::shared("aws-cur/focus-converters-cur-2023-11.csv")], &[]);
        let mappings = dir.path().join("mappings");
        std::fs::create_dir_all(mappings.join("rates")).unwrap();
        std::fs::copy(crate::fixture("rates/eurofxref-sample.csv"), mappings.join("rates/eurofxref.csv")).unwrap();
        crate::support::write_mappings(
            &mappings,
            &[("org.toml", ORG), ("rules.toml", RULES), ("currency.toml", &currency_toml("rates/eurofxref.csv"))],
        );
        Setup { lake, dir }
    }

    fn mappings(&self) -> std::path::PathBuf {
        self.dir.path().join("mappings")
    }

    fn attribute(&self, extra: &[&str]) -> crate::Run {
        let mappings = self.mappings();
        let mut args = vec!["attribute", "--lake", self.lake.arg(), "--mappings", mappings.to_str().unwrap()];
        args.extend_from_slice(extra);
        tally(&args)
    }
}

/// Recomputes every attributed row's rate and converted amounts from the rates file with
/// Python's `decimal` (cross rates through EUR rounded once to 12 places, a month's average
/// of its daily rates, amounts half away from zero to 20 places) and prints the rows that
/// differ, then whether each period's and currency's converted total is within half a unit of
/// the 20th place per row of its billed total times the rate.
const CHECK: &str = r#"
import csv, sys
from decimal import Decimal, ROUND_HALF_UP, getcontext
import duckdb
getcontext().prec = 80
lake, rates_file = sys.argv[1], sys.argv[2]
eur = {}
with open(rates_file) as f:
    rows = list(csv.reader(f))
for row in rows[1:]:
    for code, value in zip(rows[0][1:], row[1:]):
        if code and value not in ("", "N/A"):
            eur.setdefault(code, {})[row[0]] = Decimal(value)
eur.setdefault("EUR", {})
q12 = lambda d: d.quantize(Decimal("1e-12"), ROUND_HALF_UP)
q20 = lambda d: d.quantize(Decimal("1e-20"), ROUND_HALF_UP)
def daily(code, month):
    days = sorted(d for d in eur["USD"] if d.startswith(month) and (code == "EUR" or d in eur.get(code, {})))
    return [(d, q12(eur["USD"][d] / (Decimal(1) if code == "EUR" else eur[code][d]))) for d in days]
def rate(code, month, policy):
    if code == "USD":
        return Decimal(1), None
    series = daily(code, month)
    if policy == "month-end":
        return series[-1][1], series[-1][0]
    return q12(sum(r for _, r in series) / len(series)), series[-1][0]
con = duckdb.connect()
got = con.execute(f"""SELECT billing_period, "BillingCurrency", "x_ExchangeRatePolicy", CAST("x_ExchangeRate" AS VARCHAR),
    CAST("x_ExchangeRateDate" AS VARCHAR), CAST("BilledCost" AS VARCHAR), CAST("EffectiveCost" AS VARCHAR),
    CAST("x_ReportingBilledCost" AS VARCHAR), CAST("x_ReportingEffectiveCost" AS VARCHAR), "x_ReportingCurrency"
    FROM read_parquet('{lake}/attributed/*/*.parquet', hive_partitioning = true)""").fetchall()
bad, totals = 0, {}
for period, code, policy, r, day, billed, effective, rep_billed, rep_effective, reporting in got:
    want_policy = "same" if code == "USD" else ("monthly-average" if period == "2023-09" else "month-end")
    want_rate, want_day = rate(code, period, want_policy)
    row_ok = (reporting == "USD" and policy == want_policy and Decimal(r) == want_rate and day == want_day
              and Decimal(rep_billed) == q20(Decimal(billed) * want_rate)
              and Decimal(rep_effective) == q20(Decimal(effective) * want_rate))
    if not row_ok:
        bad += 1
        print("differs:", period, code, policy, r, day, billed, rep_billed, "want", want_policy, want_rate, want_day)
    t = totals.setdefault((period, code), [Decimal(0), Decimal(0), want_rate, 0])
    t[0] += Decimal(billed); t[1] += Decimal(rep_billed); t[3] += 1
bound = max(abs(t[1] - t[0] * t[2]) / t[3] for t in totals.values())
print(f"checked {len(got)} rows, {bad} differ, {len(totals)} period-currencies, per-row gap within 5E-21: {bound <= Decimal('5e-21')}")
"#;

fn check(lake: &Lake, rates: &Path) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", CHECK, lake.path.to_str().unwrap(), rates.to_str().unwrap()])
        .output()
        .expect("python3 with duckdb");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_row_is_converted_at_its_months_rate_and_reruns_write_the_same_bytes() {
    let setup = Setup::new();
    let run = setup.attribute(&["-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = check(&setup.lake, &setup.mappings().join("rates/eurofxref.csv"));
    // 6 August rows, 27 Azure rows, 1281 CUR rows; USD, EUR, CAD, NOK in August, CAD in
    // September 2023, USD in November 2023. Each row is rounded once, so a total is off its
    // billed total times the rate by at most half a unit of the 20th place per row.
    assert!(
        summary.ends_with("checked 1314 rows, 0 differ, 6 period-currencies, per-row gap within 5E-21: True\n"),
        "{summary}"
    );

    // By hand, from the rates file: EUR on 31 August is 1.1712 USD, so 250.50 - 12.34 = 238.16 EUR
    // is 278.932992 USD; CAD is 1.1712 / 1.6105 = 0.727227569078 USD.
    let rows = crate::support::duckdb(&format!(
        r#"SELECT "BillingCurrency", CAST(sum("x_ReportingBilledCost") AS VARCHAR), CAST(any_value("x_ExchangeRate") AS VARCHAR)
           FROM read_parquet('{}/attributed/billing_period=2026-08/*.parquet') GROUP BY 1 ORDER BY 1"#,
        setup.lake.path.display()
    ));
    let eur = rows.iter().find(|r| r[0] == "EUR").unwrap();
    assert_eq!((eur[1].as_str(), eur[2].as_str()), ("278.93299200000000000000", "1.171200000000"));
    let cad = rows.iter().find(|r| r[0] == "CAD").unwrap();
    assert_eq!(cad[2], "0.727227569078");

    let before = setup.lake.data_files();
    assert_eq!(setup.attribute(&["-q"]).code, 0);
    assert!(setup.lake.data_files() == before, "the same lake and mappings write the same bytes");
}

#[test]
fn missing_rates_are_all_named_and_nothing_is_written() {
    let setup = Setup::new();
    // Drop NOK and September 2023 from the rates file.
    let rates = setup.mappings().join("rates/eurofxref.csv");
    let text = std::fs::read_to_string(&rates).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with("2023-09"))
        .map(|l| l.split(',').take(4).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    std::fs::write(&rates, kept).unwrap();
    let before = setup.lake.data_files();
    let run = setup.attribute(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "2 exchange rate(s) missing for the reporting currency USD (currency.toml); nothing was written:\n  \
             CAD to USD in 2023-09: no rate dated 2023-09-01 to the month's end in the rates file (monthly-average)\n  \
             NOK to USD in 2026-08: no rate dated 2026-08-01 to the month's end in the rates file (month-end)\n"
        ),
        "{}",
        run.stderr
    );
    assert!(setup.lake.data_files() == before, "a refused attribution leaves the lake's files byte-identical");
}

#[test]
fn a_locked_month_keeps_its_rates_until_restated_with_each_teams_before_and_after() {
    let setup = Setup::new();
    assert_eq!(setup.attribute(&["-q"]).code, 0);
    assert_eq!(tally(&["lock", "--lake", setup.lake.arg(), "2026-08", "-m", "August closed"]).code, 0);
    let august =
        |lake: &Lake| crate::support::files_under(&lake.path, &lake.path.join("attributed/billing_period=2026-08"));
    let locked = august(&setup.lake);

    // Finance revises August's month-end EUR rate: a later run leaves the locked month alone.
    let rates = setup.mappings().join("rates/eurofxref.csv");
    let text = std::fs::read_to_string(&rates).unwrap().replace("2026-08-31,1.1712,", "2026-08-31,1.2000,");
    std::fs::write(&rates, text).unwrap();
    let run = setup.attribute(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("skipping locked period(s): 2026-08"), "{}", run.stdout);
    assert!(august(&setup.lake) == locked, "the locked month keeps its rates and bytes");

    // Restating it records each team's converted spend before and after; billing amounts stand.
    let run = setup.attribute(&["--period", "2026-08", "--restate", "-m", "ECB correction", "--by", "finance"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        setup.lake.rows(
            r#"SELECT team, basis, "BillingCurrency", billed_before, billed_after FROM restatements
               WHERE team = 'web' ORDER BY basis, "BillingCurrency""#
        ),
        vec![
            "web,billing,EUR,238.16,238.16",
            "web,billing,USD,100.07,100.07",
            // 100.07 USD + 238.16 EUR at 1.1712, then at 1.2000 (Python decimal: 100.07 + 278.932992,
            // 100.07 + 285.792).
            "web,reporting,USD,379.002992,385.862",
        ]
    );
}

/// Budgets, and everything that reads spend through the mappings, read the reporting
/// currency: web's August is 100.07 USD and 238.16 EUR, one budget in USD covers both.
#[test]
fn a_budget_in_the_reporting_currency_covers_spend_billed_in_several() {
    let setup = Setup::new();
    assert_eq!(setup.attribute(&["-q"]).code, 0);
    std::fs::write(
        setup.mappings().join("budgets.toml"),
        "currency = \"USD\"\n\n[[budget]]\nowner = \"web\"\nmonthly = \"400\"\ncost = \"BilledCost\"\n\n\
         [[budget]]\nowner = \"acme\"\nmonthly = \"1000\"\ncurrency = \"EUR\"\ncost = \"BilledCost\"\n",
    )
    .unwrap();
    let mappings = setup.mappings();
    let run = tally(&[
        "budget",
        "status",
        "--lake",
        setup.lake.arg(),
        "--mappings",
        mappings.to_str().unwrap(),
        "--as-of",
        "2026-08-31",
        "--format",
        "csv",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let web: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("2026-08,web,")).collect();
    // 100.07 + 238.16 * 1.1712 = 379.002992 USD (the rate of 31 August).
    assert_eq!(web.len(), 1, "{}", run.stdout);
    let fields: Vec<&str> = web[0].split(',').collect();
    assert_eq!((fields[4], fields[6], fields[8]), ("USD", "400", "379.002992"), "{}", web[0]);

    // A budget in EUR is converted at August's rate: 1000 EUR at 1.1712 = 1171.2 USD, against the
    // whole company's August in USD (DuckDB's sum of the converted rows).
    let acme: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("2026-08,acme,")).collect();
    let fields: Vec<&str> = acme[0].split(',').collect();
    let august = crate::support::duckdb(&format!(
        r#"SELECT CAST(sum("x_ReportingBilledCost") AS VARCHAR) FROM read_parquet('{}/attributed/billing_period=2026-08/*.parquet')"#,
        setup.lake.path.display()
    ));
    let august = august[0][0].trim_end_matches('0').trim_end_matches('.');
    assert_eq!((fields[4], fields[6], fields[8]), ("USD", "1171.2", august), "{}", acme[0]);
    assert!(acme[0].contains("budget €1,000.00 at 1.1712 USD per EUR (month-end 2026-08-31)"), "{}", acme[0]);

    // `tally sql` still sees the files as written: each row in its billing currency.
    let billed = setup.lake.rows(
        r#"SELECT "BillingCurrency", sum("BilledCost") FROM attributed WHERE team = 'web' GROUP BY 1 ORDER BY 1"#,
    );
    assert_eq!(billed, vec!["EUR,238.16", "USD,100.07"]);
}

/// The FOCUS export of attributed spend carries the conversion beside each share, so a finance
/// tool reading the export sees the same reporting-currency totals as tally's reports.
#[test]
fn the_attributed_focus_export_carries_the_converted_amounts() {
    let setup = Setup::new();
    assert_eq!(setup.attribute(&["-q"]).code, 0);
    let out = setup.dir.path().join("focus");
    crate::tally_ok(&["export", "focus", "--lake", setup.lake.arg(), "--out", out.to_str().unwrap(), "--attributed"]);
    let sums = |sql: String| crate::support::duckdb(&sql);
    let exported = sums(format!(
        r#"SELECT billing_period, coalesce("x_AllocatedResourceId", '-'), "x_ReportingCurrency",
                  CAST(sum("x_ReportingBilledCost") AS VARCHAR), CAST(sum("x_ReportingEffectiveCost") AS VARCHAR)
           FROM read_parquet('{}/billing_period=*/*.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY ALL"#,
        out.display()
    ));
    let in_lake = sums(format!(
        r#"SELECT billing_period, CASE WHEN method = 'unallocated' THEN '-' ELSE team END, "x_ReportingCurrency",
                  CAST(sum("x_ReportingBilledCost") AS VARCHAR), CAST(sum("x_ReportingEffectiveCost") AS VARCHAR)
           FROM read_parquet('{}/attributed/*/*.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY ALL"#,
        setup.lake.path.display()
    ));
    assert_eq!(exported, in_lake);
    assert!(exported.iter().all(|r| r[2] == "USD"), "{exported:?}");
}

/// A team's page shows its week and month in each billing currency beside the converted
/// totals; the weekly report shows the company's.
#[test]
fn the_weekly_report_and_a_teams_page_show_what_was_billed_in_each_currency() {
    let setup = Setup::new();
    assert_eq!(setup.attribute(&["-q"]).code, 0);
    let out = setup.dir.path().join("reports");
    let mappings = setup.mappings();
    crate::tally_ok(&[
        "report",
        "weekly",
        "--lake",
        setup.lake.arg(),
        "--mappings",
        mappings.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--as-of",
        "2026-08-10",
    ]);
    // Week 4-10 August, month 1-10 August. web: EUR 250.50 - 12.34 = 238.16 on the 4th and 5th,
    // at August's month-end 1.1712 = 278.932992 USD; USD 100.00 on the 3rd (0.07 on the 20th is later).
    let page = std::fs::read_to_string(out.join("teams/web.html")).unwrap();
    assert_eq!(
        crate::support::html_table(&page, "team_billing_currencies"),
        vec![
            vec!["EUR", "238.16", "238.16", "1.1712", "$278.93", "$278.93"],
            vec!["USD", "0.00", "100.00", "1", "$0.00", "$100.00"],
        ]
    );
    // The company adds data's CAD 80.125 on the 10th, at 1.1712 / 1.6105 = 0.727227569078
    // (12 places, half away from zero): 58.269108972374750 USD. NOK's charge (the 12th) is later.
    let weekly = std::fs::read_to_string(out.join("weekly.html")).unwrap();
    assert_eq!(
        crate::support::html_table(&weekly, "weekly_billing_currencies"),
        vec![
            vec!["EUR", "238.16", "238.16", "1.1712", "$278.93", "$278.93"],
            vec!["USD", "0.00", "100.00", "1", "$0.00", "$100.00"],
            vec!["CAD", "80.13", "80.13", "0.727227569078", "$58.27", "$58.27"],
        ]
    );
}
