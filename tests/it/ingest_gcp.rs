//! GCP billing export: every public sample (koku's CSVs, with `labels` and
//! `credits` as Python literals) and the hand-written JSON-lines month with its
//! Parquet twin.
//!
//! Expected figures for the samples come from Python's csv, ast and decimal
//! modules: `cost` summed per file, and every credit's `amount` taken as the
//! source text of the literal (ast.get_source_segment), so no float is involved.

use crate::{Lake, fixture, shared};

/// (file, line items = rows + credits, billed = effective total, Usage rows and
/// their cost, Credit rows and their amount, periods with their line items)
const SAMPLES: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "gcp/202011_30c31bca571d9b7f3b2c8459dd8bc34a_2020-11-08:2020-11-11.csv",
        "33,0,0",
        "Usage,25,0.000032,0.000032",
        "Credit,8,-0.000032,-0.000032",
        &["gcp,2020-11,000000-B0BBA4-940A77,33"],
    ),
    (
        "gcp/2022-08-01_5.csv",
        "9,0.000012,0.000012",
        "Usage,9,0.000012,0.000012",
        "",
        &["gcp,2022-08,018984-D0AAA4-940B88,9"],
    ),
    (
        "gcp/2024-03-01_5.csv",
        "6,0,0",
        "Usage,6,0,0",
        "",
        // invoice.month is 202402 on three rows and 202403 on the other three.
        &["gcp,2024-02,018984-D0AAA4-940B88,3", "gcp,2024-03,018984-D0AAA4-940B88,3"],
    ),
    (
        "gcp/evidence-2019-06-03.csv",
        "262,0,0",
        "Usage,224,0.000183,0.000183",
        "Credit,38,-0.000183,-0.000183",
        &["gcp,2020-11,018984-D0AAA4-940B88,262"],
    ),
    (
        "gcp/evidence-2020-11-16.csv",
        "38,0,0",
        "Usage,28,0.000042,0.000042",
        "Credit,10,-0.000042,-0.000042",
        &["gcp,2020-11,000000-B0BBA4-940A77,38"],
    ),
    (
        // 9 of its 292 rows end before they start (usage_end_time < usage_start_time, rows
        // 87, 94, 96, 98, 115, 125, 165, 169 and 173; Python's csv module), so they are
        // quarantined: the 283 others cost 0.355465, the 9 cost 0.000097.
        "gcp/tmp_example.csv",
        "283,0.355465,0.355465",
        "Usage,283,0.355465,0.355465",
        "",
        &["gcp,2020-10,2G11B4-01028B-AB26DE,283"],
    ),
];

/// Rows quarantined per sample, and the file's whole source cost when rows were
/// quarantined (from the same Python reading: 0.355465 + 0.000097).
fn quarantined(file: &str) -> (u64, Option<&'static str>) {
    if file.ends_with("tmp_example.csv") { (9, Some("0.355562")) } else { (0, None) }
}

#[test]
fn every_public_sample_lands_every_row_and_credit() {
    for (file, totals, usage, credit, units) in SAMPLES {
        let lake = Lake::new();
        let run = lake.ingest_ok(&[&shared(file)], &["--allow-quarantine"]);
        assert!(run.stdout.contains("gcp (csv, detected)"), "{file}: {}", run.stdout);
        assert_eq!(lake.totals(), *totals, "{file}");
        let expected: Vec<&str> = [*usage, *credit].into_iter().filter(|s| !s.is_empty()).collect();
        assert_eq!(
            lake.rows(r#"SELECT "ChargeCategory", count(*), sum("BilledCost"), sum("EffectiveCost") FROM line_items GROUP BY 1 ORDER BY 1 DESC"#),
            expected,
            "{file}"
        );
        assert_eq!(
            lake.rows(r#"SELECT provider, billing_period, "BillingAccountId", count(*) FROM line_items GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"#),
            units.to_vec(),
            "{file}"
        );
        // Every source row landed once (its credits share its x_SourceRow), and the
        // file's source cost is its net cost: cost + credits.
        let rows = usage.split(',').nth(1).unwrap();
        let net = totals.split(',').nth(1).unwrap();
        assert_eq!(lake.value(r#"SELECT count(DISTINCT "x_SourceRow") FROM line_items"#), rows, "{file}");
        let (bad, source) = quarantined(file);
        let read = rows.parse::<u64>().unwrap() + bad;
        let source = source.unwrap_or(net);
        assert_eq!(
            lake.value(
                "SELECT rows_read, rows_landed, rows_quarantined, source_cost, landed_cost, status FROM ingests"
            ),
            format!("{read},{rows},{bad},{source},{net},committed"),
            "{file}"
        );
    }
}

#[test]
fn the_whole_folder_in_one_run() {
    // Two of koku's samples are overlapping exports of one billing account: every row of
    // 202011_..._2020-11-08:2020-11-11.csv is also in evidence-2020-11-16.csv, every column
    // equal, export_time included (Python's csv module: 25 of 25 rows). Together they would
    // count those 25 rows and 8 credits twice, so the folder is refused.
    let lake = Lake::new();
    let both = lake.ingest(&[&shared("gcp")], &[]);
    assert_eq!(both.code, 1, "{}", both.stderr);
    assert!(
        both.stderr.contains(&format!(
            "{} row 1 is the same line item as {} row 1 (every column is equal); 33 line item(s) of that unit \
             repeat another file's",
            shared("gcp/evidence-2020-11-16.csv"),
            shared("gcp/202011_30c31bca571d9b7f3b2c8459dd8bc34a_2020-11-08:2020-11-11.csv")
        )),
        "{}",
        both.stderr
    );
    assert!(!lake.path.join("line_items").exists());
    // Without the earlier export: the sum of the other files' figures above (607 line items
    // = 559 rows + 48 credits).
    let files: Vec<String> = SAMPLES.iter().skip(1).map(|s| shared(s.0)).collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    lake.ingest_ok(&files, &["--allow-quarantine"]);
    // ... less tmp_example.csv's 9 quarantined rows (0.000097).
    assert_eq!(lake.totals(), "598,0.355477,0.355477");
    assert_eq!(
        lake.rows(r#"SELECT provider, billing_period, "BillingAccountId", count(*) FROM line_items GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"#),
        vec![
            "gcp,2020-10,2G11B4-01028B-AB26DE,283",
            "gcp,2020-11,000000-B0BBA4-940A77,38",
            "gcp,2020-11,018984-D0AAA4-940B88,262",
            "gcp,2022-08,018984-D0AAA4-940B88,9",
            "gcp,2024-02,018984-D0AAA4-940B88,3",
            "gcp,2024-03,018984-D0AAA4-940B88,3",
        ]
    );
    assert!(
        lake.path.join("line_items/provider=gcp/billing_period=2020-10/part-2G11B4-01028B-AB26DE.parquet").exists()
    );
}

#[test]
fn project_and_resource_labels_become_tags() {
    let lake = Lake::new();
    let run = lake.ingest(&[&shared("gcp/tmp_example.csv")], &[]);
    assert_eq!(run.code, 3, "9 rows end before they start: {}", run.stdout);
    assert!(
        run.stdout.contains(
            "quarantined gcp/tmp_example.csv:row 87 column ChargePeriodEnd: the charge ends (2020-10-02T00:00:00Z) \
             before it starts (2020-10-03T23:00:00Z)"
        ),
        "{}",
        run.stdout
    );
    lake.ingest_ok(&[&shared("gcp/tmp_example.csv")], &["--allow-quarantine"]);
    // Python's csv and ast modules, over the 283 rows that land: project.labels is
    // [foo=bar] on 162 rows; labels is vm_key_proj2 on 109 rows, goog-resource-type on 11,
    // test_storage_key on 2.
    assert_eq!(
        lake.rows(
            r#"SELECT k, count(*) FROM (SELECT unnest(map_keys("Tags")) AS k FROM line_items) GROUP BY 1 ORDER BY 1"#
        ),
        vec!["foo,162", "goog-resource-type,11", "test_storage_key,2", "vm_key_proj2,109"]
    );
    assert_eq!(lake.value(r#"SELECT count(*) FROM line_items WHERE "Tags"['foo'] = 'bar'"#), "162");
    // system_labels are not tags.
    assert_eq!(
        lake.value(
            r#"SELECT count(*) FROM line_items WHERE "Tags"['compute.googleapis.com/machine_spec'] IS NOT NULL"#
        ),
        "0"
    );
    assert_eq!(
        lake.rows(r#"SELECT "SubAccountId", "SubAccountName", "ServiceName", "x_ServiceCode", "ServiceCategory", count(*) FROM line_items WHERE "ServiceName" = 'Compute Engine' GROUP BY 1, 2, 3, 4, 5 ORDER BY 1"#),
        // Python's csv module: project.id and service.description per row.
        vec![
            "test-proj-id-2,test-proj-alias-2,Compute Engine,6F81-5844-456A,Compute,147",
            "test-project-id,test-project-alias,Compute Engine,6F81-5844-456A,Compute,114",
        ]
    );
}

#[test]
fn promotion_credits_are_their_own_rows() {
    let lake = Lake::new();
    lake.ingest_ok(&[&shared("gcp/evidence-2020-11-16.csv")], &[]);
    // 8 rows carry a -5e-06 FreeTrial credit and 2 rows a -1e-06 one (Python's csv and ast).
    assert_eq!(
        lake.rows(r#"SELECT "x_LineItemType", "BilledCost", "EffectiveCost", "x_SourceLineItemId", count(*) FROM line_items WHERE "ChargeCategory" = 'Credit' GROUP BY 1, 2, 3, 4 ORDER BY 2"#),
        vec![
            "PROMOTION,-0.000005,-0.000005,FreeTrial:Credit-000000-B0BBA4-940A77,8",
            "PROMOTION,-0.000001,-0.000001,FreeTrial:Credit-000000-B0BBA4-940A77,2",
        ]
    );
    // Each credit row keeps its usage row's project, service and period.
    assert_eq!(
        lake.value(r#"SELECT count(*) FROM line_items c JOIN line_items u ON c."x_SourceRow" = u."x_SourceRow" AND u."ChargeCategory" = 'Usage' WHERE c."ChargeCategory" = 'Credit' AND c."SubAccountId" = u."SubAccountId" AND c."ServiceName" = u."ServiceName" AND c."ChargePeriodStart" = u."ChargePeriodStart""#),
        "10"
    );
}

/// The hand-written month (fixtures/gcp): 7 rows, 4 credits. Worked out by hand
/// from the rules in the README:
/// - row 1, Compute Engine 12.40 with a committed-use credit -4.96 and a
///   sustained-use credit -1.24: billed 12.40, -4.96, -1.24; effective 6.20, 0, 0;
/// - row 2, Cloud Storage 3.75 with a promotion -1.00: billed = effective 3.75, -1.00;
/// - row 3, BigQuery 0.62;
/// - row 4, BigQuery 2.00 with a negotiated discount -0.20: effective 1.80, 0;
/// - rows 5 to 7: tax 1.03, adjustment -0.50, rounding error 0.000004.
///
/// Billed and effective both total 11.900004.
#[test]
fn json_lines_and_parquet_months_agree() {
    for (file, encoding) in [("gcp/gcp-detailed-2024-05.json", "json"), ("gcp/gcp-detailed-2024-05.parquet", "parquet")]
    {
        let lake = Lake::new();
        let run = lake.ingest_ok(&[&fixture(file)], &[]);
        assert!(run.stdout.contains(&format!("gcp ({encoding}, detected)")), "{}", run.stdout);
        assert_eq!(lake.totals(), "11,11.900004,11.900004", "{file}");
        assert_eq!(
            lake.rows(r#"SELECT "x_SourceRow", "ChargeCategory", "x_LineItemType", "BilledCost", "EffectiveCost", "SubAccountId", "ServiceName", "Tags"['team'], "CommitmentDiscountCategory", "PricingCategory" FROM line_items ORDER BY 1, 2 DESC, 4 DESC"#),
            vec![
                // The resource label team=checkout wins over the project label team=platform.
                "1,Usage,regular,12.4,6.2,shop-prod,Compute Engine,checkout,,Committed",
                "1,Credit,SUSTAINED_USAGE_DISCOUNT,-1.24,0,shop-prod,Compute Engine,checkout,,",
                "1,Credit,COMMITTED_USAGE_DISCOUNT,-4.96,0,shop-prod,Compute Engine,checkout,Usage,",
                "2,Usage,regular,3.75,3.75,data-lake,Cloud Storage,data,,Standard",
                "2,Credit,PROMOTION,-1,-1,data-lake,Cloud Storage,data,,",
                "3,Usage,regular,0.62,0.62,data-lake,BigQuery,data,,Standard",
                "4,Usage,regular,2,1.8,data-lake,BigQuery,data,,Committed",
                "4,Credit,DISCOUNT,-0.2,0,data-lake,BigQuery,data,,",
                "5,Tax,tax,1.03,1.03,shop-prod,Compute Engine,platform,,",
                "6,Adjustment,adjustment,-0.5,-0.5,shop-prod,Compute Engine,platform,,",
                "7,Adjustment,rounding_error,0.000004,0.000004,shop-prod,Compute Engine,platform,,",
            ],
            "{file}"
        );
        // The billing period is the invoice month, even for usage that started in April.
        assert_eq!(
            lake.rows(r#"SELECT DISTINCT billing_period, "BillingPeriodStart", "BillingPeriodEnd" FROM line_items"#),
            vec!["2024-05,2024-05-01T00:00:00Z,2024-06-01T00:00:00Z"],
            "{file}"
        );
        assert_eq!(
            lake.value(r#"SELECT "ResourceId", "ResourceName", "RegionId", "AvailabilityZone", "ConsumedQuantity", "ConsumedUnit", "PricingQuantity", "PricingUnit" FROM line_items WHERE "x_SourceRow" = 1 AND "ChargeCategory" = 'Usage'"#),
            "//compute.googleapis.com/projects/shop-prod/zones/us-central1-a/instances/4242,web-1,us-central1,us-central1-a,57600,seconds,16,hour",
            "{file}"
        );
    }
}

#[test]
fn gzipped_json_lines_are_read_too() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.json.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::default());
    gz.write_all(&std::fs::read(fixture("gcp/gcp-detailed-2024-05.json")).unwrap()).unwrap();
    gz.finish().unwrap();
    let lake = Lake::new();
    let run = lake.ingest_ok(&[path.to_str().unwrap()], &[]);
    assert!(run.stdout.contains("gcp (json.gz, detected)"), "{}", run.stdout);
    assert_eq!(lake.totals(), "11,11.900004,11.900004");
}

#[test]
fn a_bad_credits_cell_quarantines_its_row_and_names_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gcp.csv");
    std::fs::write(
        &path,
        "billing_account_id,service.description,usage_start_time,cost,currency,credits,invoice.month\n\
         A,Compute Engine,2024-05-01 00:00:00+00:00,1.5,USD,\"[{'amount': -0.5, 'type': 'PROMOTION'}]\",202405\n\
         A,Compute Engine,2024-05-01 01:00:00+00:00,2.5,USD,\"[{'amount': -0.5, 'type': 'PROMOTION'\",202405\n",
    )
    .unwrap();
    let lake = Lake::new();
    let run = lake.ingest(&[path.to_str().unwrap()], &["--allow-quarantine"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        lake.value("SELECT source_row, column, reason FROM quarantine"),
        "2,credits,\"credits: expected ',' or '}' at character 38 of \"\"[{'amount': -0.5, 'type': 'PROMOTION'\"\"\""
    );
    // Source cost: row 1 nets 1.0; the quarantined row counts its cost, 2.5.
    assert_eq!(
        lake.value("SELECT source_cost, landed_cost, quarantined_cost FROM ingests WHERE status = 'committed'"),
        "3.5,1,2.5"
    );
    assert_eq!(lake.totals(), "2,1,1");
}
