//! End-to-end checks: generate files, read them back with flate2 + csv, and
//! check them with code independent of the generator's own arithmetic.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use super::*;

/// Exact decimal text -> integer count of 1e-10 (the test's own parser).
fn exact(text: &str) -> i128 {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    assert!(fraction.len() <= 10, "more than 10 decimals: {text}");
    let padded = format!("{fraction:0<10}");
    let value = whole.parse::<i128>().unwrap() * 10_000_000_000 + padded.parse::<i128>().unwrap();
    if negative { -value } else { value }
}

fn read_rows(path: &Path) -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows = reader.records().map(Result::unwrap).collect();
    (header, rows)
}

fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                found.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    found
}

#[test]
fn same_config_gives_byte_identical_files() {
    let config = DemoConfig { target_rows: 12_000, rows_per_file: 2_500, ..DemoConfig::default() };
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = generate_cur(first.path(), &config, &mut |_| {}).unwrap();
    let b = generate_cur(second.path(), &config, &mut |_| {}).unwrap();
    let strip = |files: &[GeneratedFile], root: &Path| -> Vec<_> {
        files
            .iter()
            .map(|f| (f.path.strip_prefix(root).unwrap().to_path_buf(), f.rows, f.unblended_cost_total.clone()))
            .collect()
    };
    assert_eq!(strip(&a, first.path()), strip(&b, second.path()));
    let (bytes_a, bytes_b) = (files_under(first.path()), files_under(second.path()));
    assert_eq!(bytes_a.len(), a.len());
    assert!(bytes_a == bytes_b, "same config wrote different bytes");

    let other_seed = tempfile::tempdir().unwrap();
    generate_cur(other_seed.path(), &DemoConfig { seed: 7, ..config }, &mut |_| {}).unwrap();
    assert!(files_under(other_seed.path()) != bytes_a, "the seed changes nothing");
}

#[test]
fn rejects_invalid_configs() {
    let dir = tempfile::tempdir().unwrap();
    for config in [
        DemoConfig { rows_per_file: 0, ..DemoConfig::default() },
        DemoConfig { first_month: (2026, 13), ..DemoConfig::default() },
        DemoConfig { months: 0, ..DemoConfig::default() },
        DemoConfig { pods_per_node: 0, ..DemoConfig::default() },
        DemoConfig { pods_per_node: 201, ..DemoConfig::default() },
    ] {
        assert!(generate_cur(dir.path(), &config, &mut |_| {}).is_err(), "{config:?}");
    }
}

/// `pods_per_node` pods on every node and day of the shared cluster, each a vCPU and a memory
/// row with no cost of its own and a positive split cost.
#[test]
fn a_cluster_heavy_company_puts_pods_per_node_on_every_node_day() {
    let dir = tempfile::tempdir().unwrap();
    let config = DemoConfig { target_rows: 12_000, months: 1, pods_per_node: 16, ..DemoConfig::default() };
    let files = generate_cur(dir.path(), &config, &mut |_| {}).unwrap();
    let mut pods: HashMap<(String, String), Vec<i128>> = HashMap::new();
    let mut rows = 0;
    for file in &files {
        let (header, records) = read_rows(&file.path);
        let at = |name: &str| header.iter().position(|h| h == name).unwrap();
        let (parent, start, split, unused, cost) = (
            at("splitLineItem/ParentResourceId"),
            at("lineItem/UsageStartDate"),
            at("splitLineItem/SplitCost"),
            at("splitLineItem/UnusedCost"),
            at("lineItem/UnblendedCost"),
        );
        for row in &records {
            rows += 1;
            if !row[parent].is_empty() {
                assert_eq!(exact(&row[cost]), 0, "a pod row has no cost of its own");
                assert!(exact(&row[split]) > 0 && exact(&row[unused]) >= 0, "{row:?}");
                pods.entry((row[parent].to_string(), row[start].to_string())).or_default().push(exact(&row[split]));
            }
        }
    }
    assert!(!pods.is_empty());
    for (node, split) in &pods {
        assert_eq!(split.len(), 32, "{node:?}: 16 pods, a vCPU and a memory row each");
    }
    let pod_rows: usize = pods.values().map(Vec::len).sum();
    assert!(pod_rows * 100 / rows > 10, "{pod_rows} pod rows of {rows}");
}

/// One default-sized data set, checked from every angle.
#[test]
fn default_data_set_reads_back_consistently() {
    let config = DemoConfig { rows_per_file: 25_000, ..DemoConfig::default() };
    let dir = tempfile::tempdir().unwrap();
    let mut reported_rows = 0;
    let files = generate_cur(dir.path(), &config, &mut |rows| reported_rows += rows).unwrap();
    let company = company();
    let column: HashMap<&str, usize> = COLUMNS.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let get = |row: &csv::StringRecord, name: &str| row.get(column[name]).unwrap().to_string();

    let mut total_rows = 0;
    let mut line_item_ids = HashSet::new();
    let mut line_item_types = BTreeSet::new();
    let mut team_tag_by_resource = HashMap::<String, bool>::new();
    let mut canonical_teams = BTreeSet::new();
    // Per payer and day: covered on-demand cost, negations, effective cost, used commitment.
    let mut savings_plan_days = BTreeMap::<(String, String), [i128; 4]>::new();
    let mut periods = BTreeSet::new();
    for file in &files {
        let relative = file.path.strip_prefix(dir.path()).unwrap();
        let parts: Vec<_> = relative.iter().map(|p| p.to_str().unwrap().to_string()).collect();
        assert_eq!(parts.len(), 4, "{relative:?}");
        assert!(company.payer_account_ids().contains(&parts[0].as_str()));
        assert_eq!(parts[1], "demo-cur");
        assert_eq!(&parts[2][..6], file.billing_period.replace('-', ""));
        assert!(parts[3].starts_with("demo-cur-") && parts[3].ends_with(".csv.gz") && parts[3].len() == 21);
        assert_eq!(parts[0], file.payer_account_id);
        periods.insert(file.billing_period.clone());

        let (header, rows) = read_rows(&file.path);
        assert_eq!(header, COLUMNS);
        assert_eq!(rows.len() as u64, file.rows);
        assert!(file.rows <= config.rows_per_file);
        total_rows += file.rows;
        let last_month = file.billing_period == "2026-10";
        let mut sum = 0;
        for row in &rows {
            assert_eq!(row.len(), COLUMNS.len());
            let cost = exact(&get(row, "lineItem/UnblendedCost"));
            sum += cost;
            let id = get(row, "identity/LineItemId");
            assert!(id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            assert!(line_item_ids.insert(id), "duplicate line item id");
            assert_eq!(get(row, "bill/PayerAccountId"), file.payer_account_id);
            assert_eq!(get(row, "bill/InvoiceId").is_empty(), last_month);
            assert!(get(row, "bill/BillingPeriodStartDate").starts_with(&file.billing_period));
            let start = get(row, "lineItem/UsageStartDate");
            assert!(start.starts_with(&file.billing_period) && start.ends_with("T00:00:00Z"), "{start}");
            let account = get(row, "lineItem/UsageAccountId");
            assert_eq!(company.account(&account).unwrap().payer_account_id, file.payer_account_id);

            let line_item_type = get(row, "lineItem/LineItemType");
            line_item_types.insert(line_item_type.clone());
            let rate = get(row, "lineItem/UnblendedRate");
            if !rate.is_empty() {
                let product = exact(&get(row, "lineItem/UsageAmount")) * exact(&rate);
                assert_eq!(product % 10_000_000_000, 0, "usage x rate needs more than 10 decimals");
                assert_eq!(product / 10_000_000_000, cost, "cost != usage x rate in {row:?}");
            }
            let resource = get(row, "lineItem/ResourceId");
            // Pods (split cost allocation data) carry their label `team`: the drift is the nodes'.
            let pod = !get(row, "splitLineItem/ParentResourceId").is_empty();
            match line_item_type.as_str() {
                "Usage" | "DiscountedUsage" | "SavingsPlanCoveredUsage" if !pod => {
                    let team_values =
                        ["resourceTags/user:team", "resourceTags/user:Team", "resourceTags/user:owner-team"]
                            .map(|c| get(row, c));
                    let tagged = team_values.iter().any(|v| !v.is_empty());
                    let previous = team_tag_by_resource.insert(resource.clone(), tagged);
                    assert!(previous.is_none_or(|p| p == tagged), "tags of {resource} changed");
                    if company.team(&team_values[0]).is_some() {
                        canonical_teams.insert(team_values[0].clone());
                    }
                    assert!(!get(row, "product/region").is_empty());
                }
                "Tax" => {
                    assert!(["VAT", "SalesTax"].contains(&get(row, "lineItem/TaxType").as_str()))
                }
                "Credit" | "Refund" => assert!(cost < 0),
                _ => {}
            }
            if line_item_type == "DiscountedUsage" {
                assert_eq!(cost, 0);
                assert!(!get(row, "reservation/ReservationARN").is_empty());
                assert!(exact(&get(row, "reservation/EffectiveCost")) > 0);
            }
            let key = (file.payer_account_id.clone(), start.clone());
            let day = savings_plan_days.entry(key).or_default();
            match line_item_type.as_str() {
                "SavingsPlanCoveredUsage" => {
                    day[0] += cost;
                    day[2] += exact(&get(row, "savingsPlan/SavingsPlanEffectiveCost"));
                }
                "SavingsPlanNegation" => day[1] += cost,
                "SavingsPlanRecurringFee" => {
                    day[3] += exact(&get(row, "savingsPlan/UsedCommitment"));
                    let total = exact(&get(row, "savingsPlan/TotalCommitmentToDate"));
                    assert_eq!(total, cost);
                    assert!(exact(&get(row, "savingsPlan/UsedCommitment")) <= total);
                }
                _ => {}
            }
        }
        assert_eq!(sum, exact(&file.unblended_cost_total), "{}", file.path.display());
    }

    assert_eq!(periods.into_iter().collect::<Vec<_>>(), ["2026-08", "2026-09", "2026-10"]);
    assert_eq!(reported_rows, total_rows);
    let target = config.target_rows;
    assert!(total_rows.abs_diff(target) * 10 <= target, "{total_rows} rows for a target of {target}");
    for expected in [
        "Usage",
        "DiscountedUsage",
        "RIFee",
        "SavingsPlanCoveredUsage",
        "SavingsPlanNegation",
        "SavingsPlanRecurringFee",
        "Tax",
        "Credit",
        "Refund",
        "Fee",
    ] {
        assert!(line_item_types.contains(expected), "no {expected} line");
    }
    for ((payer, day), [covered, negated, effective, used]) in savings_plan_days {
        assert_eq!(covered + negated, 0, "negations do not cancel coverage on {day} for {payer}");
        assert_eq!(effective, used, "used commitment on {day} for {payer}");
    }
    assert!(canonical_teams.len() >= 20, "only {} teams tagged canonically", canonical_teams.len());
    let untagged = team_tag_by_resource.values().filter(|tagged| !**tagged).count();
    let share = untagged as f64 / team_tag_by_resource.len() as f64;
    assert!((0.08..=0.16).contains(&share), "{:.1}% of resources have no team tag", share * 100.0);
}
