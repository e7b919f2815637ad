//! Careless and hostile input: one test (or a few) per way a user, an export or
//! an attacker can try to break tally's promise that every dollar lands once,
//! exactly, and that a refused run changes nothing. Each test asserts the exit
//! code, the message (file, row, column) and, for refusals, that the lake's
//! committed files are byte-identical before and after.

mod chat;
mod dates;
mod duplicates;
mod files;
mod fuzz;
mod headers;
mod lock;
mod mappings;
mod markdown;
mod numbers;
mod overflow;
mod paths;
mod replace;
mod sql;
mod text;

use std::path::{Path, PathBuf};

use crate::Lake;

/// Every file of the lake a reader can see, with its bytes: what a refused
/// run must leave exactly as it was. The lock file (`_run/`) and staging are
/// not the lake's data.
pub fn committed_files(lake: &Lake) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = walkdir::WalkDir::new(&lake.path)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().strip_prefix(&lake.path).unwrap().display().to_string(), e.path().to_path_buf()))
        .filter(|(rel, _)| !rel.starts_with("_run") && !rel.starts_with("_staging"))
        .map(|(rel, path)| (rel, std::fs::read(path).unwrap()))
        .collect();
    files.sort();
    files
}

/// Asserts the lake's files are byte-identical to `before`, naming what changed.
pub fn assert_unchanged(lake: &Lake, before: &[(String, Vec<u8>)]) {
    let after = committed_files(lake);
    let names = |files: &[(String, Vec<u8>)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&after), names(before), "the lake's files changed");
    for ((name, a), (_, b)) in after.iter().zip(before) {
        assert!(a == b, "{name} changed");
    }
}

/// The header of the small legacy CUR files these tests write (AWS CUR data
/// dictionary, "Identity", "Bill" and "Line item details" columns).
pub const CUR_HEADER: &str = "identity/LineItemId,identity/TimeInterval,bill/PayerAccountId,\
bill/BillingPeriodStartDate,bill/BillingPeriodEndDate,lineItem/UsageAccountId,lineItem/LineItemType,\
lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/ProductCode,lineItem/CurrencyCode,\
lineItem/UnblendedCost,resourceTags/user:team";

/// One CUR row of `CUR_HEADER`: line item `id` of payer 111111111111 in
/// `month` (YYYY-MM), on `day`, costing `cost`, tagged `team`.
pub fn cur_row(id: &str, month: &str, day: u32, cost: &str, team: &str) -> String {
    let (y, m): (i32, u32) = (month[..4].parse().unwrap(), month[5..].parse().unwrap());
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let start = format!("{month}-01T00:00:00Z");
    let end = format!("{ny:04}-{nm:02}-01T00:00:00Z");
    let from = format!("{month}-{day:02}T00:00:00Z");
    let to = format!("{month}-{day:02}T01:00:00Z");
    format!("{id},{from}/{to},111111111111,{start},{end},222222222222,Usage,{from},{to},AmazonEC2,USD,{cost},{team}")
}

/// Writes `name` under `dir` with `text`; returns its path as a string.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A CUR file of `rows` under `dir`.
pub fn cur_file(dir: &Path, name: &str, rows: &[String]) -> String {
    write(dir, name, &format!("{CUR_HEADER}\n{}\n", rows.join("\n")))
}
