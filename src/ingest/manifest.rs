//! AWS delivery manifests: which objects in a CUR bucket make up the current
//! delivery of a billing period.
//!
//! AWS writes the data files first and the manifest last, so a manifest names
//! only complete files; tally reads nothing a manifest does not list.
//!
//! Legacy CUR (`keep previous versions` and `overwrite` alike):
//!
//! ```text
//! <prefix>/<report>/<yyyymmdd-yyyymmdd>/<report>-Manifest.json             the current assembly
//! <prefix>/<report>/<yyyymmdd-yyyymmdd>/<assemblyId>/<report>-Manifest.json  one per assembly (ignored)
//! <prefix>/<report>/<yyyymmdd-yyyymmdd>/<assemblyId>/<report>-1.csv.gz      data
//! ```
//!
//! The period-level manifest has `assemblyId`, `billingPeriod.start`
//! (`20231101T000000.000Z`) and `reportKeys` (object keys, without bucket).
//! Older assembly folders stay in the bucket; only the keys the period-level
//! manifest lists are current.
//!
//! CUR 2.0 / Data Exports:
//!
//! ```text
//! <prefix>/<export>/data/BILLING_PERIOD=2025-01/<export>-00001.csv.gz
//! <prefix>/<export>/metadata/BILLING_PERIOD=2025-01/[<folder>/]<export>-Manifest.json
//! ```
//!
//! The manifest has `executionId`, `billingPeriod.start` and `dataFiles`
//! (full `s3://bucket/key` URLs). With "create new export files" each
//! execution has its own folder and manifest; the latest one is current.

use serde::Deserialize;

/// Which AWS delivery layout a manifest belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Legacy Cost and Usage Report.
    Cur,
    /// CUR 2.0 delivered by Data Exports.
    Cur2,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Cur => "aws-cur",
            Layout::Cur2 => "aws-cur2",
        }
    }

    /// What AWS calls one delivery's identity.
    pub fn id_name(self) -> &'static str {
        match self {
            Layout::Cur => "assembly",
            Layout::Cur2 => "execution",
        }
    }
}

/// A manifest's place in the bucket, told from its key alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestKey {
    pub layout: Layout,
    /// The report's (or export's) folder: `<prefix>/<report>`.
    pub report_dir: String,
    /// Billing period, `YYYY-MM`.
    pub period: String,
}

const SUFFIX: &str = "-Manifest.json";

/// Tells whether `key` is a legacy period-level manifest or a CUR 2.0
/// manifest. Assembly-level legacy manifests and any other object give `None`.
pub fn classify(key: &str) -> Option<ManifestKey> {
    let parts: Vec<&str> = key.split('/').collect();
    let name = parts.last()?.strip_suffix(SUFFIX)?;
    let n = parts.len();

    // Legacy: .../<report>/<yyyymmdd-yyyymmdd>/<report>-Manifest.json
    if n >= 3
        && parts[n - 3] == name
        && let Some(period) = date_range_period(parts[n - 2])
    {
        return Some(ManifestKey { layout: Layout::Cur, report_dir: parts[..n - 2].join("/"), period });
    }

    // CUR 2.0: .../<export>/metadata/BILLING_PERIOD=YYYY-MM/[...]/<export>-Manifest.json
    let metadata = parts.iter().rposition(|p| *p == "metadata")?;
    if metadata == 0 || parts[metadata - 1] != name || metadata + 2 >= n {
        return None;
    }
    let period = parts[metadata + 1].strip_prefix("BILLING_PERIOD=")?;
    if !is_year_month(period) {
        return None;
    }
    Some(ManifestKey { layout: Layout::Cur2, report_dir: parts[..metadata].join("/"), period: period.to_string() })
}

/// `20231101-20231201` -> `2023-11`.
fn date_range_period(folder: &str) -> Option<String> {
    let (start, end) = folder.split_once('-')?;
    let digits = |s: &str| s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(start) || !digits(end) {
        return None;
    }
    let period = format!("{}-{}", &start[..4], &start[4..6]);
    is_year_month(&period).then_some(period)
}

/// `YYYY-MM` with a real month.
pub fn is_year_month(text: &str) -> bool {
    crate::calendar::Month::parse(text).is_some()
}

/// What tally needs from a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `assemblyId` (legacy) or `executionId` (CUR 2.0).
    pub id: String,
    /// `YYYY-MM` from `billingPeriod.start`.
    pub period: String,
    /// Object keys of the data files, in manifest order.
    pub keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyJson {
    assembly_id: Option<String>,
    billing_period: Option<PeriodJson>,
    #[serde(default)]
    report_keys: Vec<String>,
    compression: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cur2Json {
    execution_id: Option<String>,
    billing_period: Option<PeriodJson>,
    #[serde(default)]
    data_files: Vec<String>,
}

#[derive(Deserialize)]
struct PeriodJson {
    start: String,
}

/// Parses a manifest's JSON. `bucket` is the bucket it was read from: CUR 2.0
/// `dataFiles` name their bucket, and a file elsewhere is refused rather than
/// read with credentials meant for this bucket.
pub fn parse(layout: Layout, json: &[u8], bucket: &str) -> Result<Manifest, String> {
    let (id, start, keys) = match layout {
        Layout::Cur => {
            let m: LegacyJson = serde_json::from_slice(json).map_err(|e| format!("not a CUR manifest: {e}"))?;
            if let Some(c) = m.compression.as_deref().filter(|c| c.eq_ignore_ascii_case("zip")) {
                return Err(format!(
                    "compression {c} is not supported: set the report's compression to GZIP or Parquet"
                ));
            }
            (m.assembly_id.ok_or("no assemblyId")?, m.billing_period.ok_or("no billingPeriod")?.start, m.report_keys)
        }
        Layout::Cur2 => {
            let m: Cur2Json = serde_json::from_slice(json).map_err(|e| format!("not a Data Exports manifest: {e}"))?;
            let keys = m.data_files.iter().map(|f| data_file_key(f, bucket)).collect::<Result<Vec<_>, _>>()?;
            (m.execution_id.ok_or("no executionId")?, m.billing_period.ok_or("no billingPeriod")?.start, keys)
        }
    };
    let period = start_period(&start).ok_or_else(|| format!("billingPeriod.start {start:?} is not a date"))?;
    for key in &keys {
        check_key(key)?;
    }
    Ok(Manifest { id, period, keys })
}

/// `s3://bucket/key` (as Data Exports writes it) or a bare key -> the key.
/// The object keys a manifest file lists, for a local copy of a delivery:
/// legacy `reportKeys`, or CUR 2.0 `dataFiles` without their `s3://bucket/`.
/// `None` when the JSON is neither kind of manifest.
pub fn listed_keys(json: &[u8]) -> Option<(Layout, Vec<String>)> {
    if let Ok(m) = serde_json::from_slice::<LegacyJson>(json)
        && !m.report_keys.is_empty()
    {
        return Some((Layout::Cur, m.report_keys));
    }
    let m = serde_json::from_slice::<Cur2Json>(json).ok().filter(|m| !m.data_files.is_empty())?;
    let keys = m
        .data_files
        .iter()
        .map(|f| match f.strip_prefix("s3://").and_then(|rest| rest.split_once('/')) {
            Some((_bucket, key)) => key.to_string(),
            None => f.clone(),
        })
        .collect();
    Some((Layout::Cur2, keys))
}

fn data_file_key(file: &str, bucket: &str) -> Result<String, String> {
    let Some(rest) = file.strip_prefix("s3://") else {
        return Ok(file.to_string());
    };
    let (file_bucket, key) = rest.split_once('/').ok_or_else(|| format!("data file {file:?} has no key"))?;
    if file_bucket != bucket {
        return Err(format!("data file {file} is in bucket {file_bucket}, not {bucket}"));
    }
    Ok(key.to_string())
}

/// A key is requested exactly as written, so it must name one object that
/// object_store can ask for: after an optional leading `/` (legacy reports
/// created without a prefix, `/daily/20190501-20190601/...`), no empty, `.`
/// or `..` segment, and a file name at the end.
fn check_key(key: &str) -> Result<(), String> {
    let rest = key.strip_prefix('/').unwrap_or(key);
    if rest.is_empty() || rest.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(format!(
            "unsafe or empty object key {key:?}: a key may start with one /, but has no empty, . or .. segments"
        ));
    }
    Ok(())
}

/// `20231101T000000.000Z` (legacy) or `2025-01-01T00:00:00.000Z` -> `2023-11`.
fn start_period(start: &str) -> Option<String> {
    let digits: String = start.chars().take_while(|c| *c != 'T').filter(char::is_ascii_digit).collect();
    if digits.len() < 6 {
        return None;
    }
    let period = format!("{}-{}", &digits[..4], &digits[4..6]);
    is_year_month(&period).then_some(period)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape of a real legacy period-level manifest (fields as AWS writes
    // them; columns shortened).
    const LEGACY: &str = r#"{
      "assemblyId": "9b7a5b3e-1c1d-4c3e-9f6a-2f0b1b2c3d4e",
      "account": "123412340534",
      "columns": [{"category": "identity", "name": "LineItemId", "type": "String"},
                  {"category": "bill", "name": "InvoiceId", "type": "String"}],
      "charset": "UTF-8",
      "compression": "GZIP",
      "contentType": "text/csv",
      "reportId": "6f0c...",
      "reportName": "daily",
      "billingPeriod": {"start": "20231101T000000.000Z", "end": "20231201T000000.000Z"},
      "bucket": "billing",
      "reportKeys": [
        "cur/daily/20231101-20231201/9b7a5b3e-1c1d-4c3e-9f6a-2f0b1b2c3d4e/daily-1.csv.gz",
        "cur/daily/20231101-20231201/9b7a5b3e-1c1d-4c3e-9f6a-2f0b1b2c3d4e/daily-2.csv.gz"
      ],
      "additionalArtifactKeys": []
    }"#;

    const CUR2: &str = r#"{
      "executionId": "5d1e7c1a-8d55-4f4b-b7d5-0c8a1f3c0e21",
      "exportArn": "arn:aws:bcm-data-exports:us-east-1:111122223333:export/cur2-3a5b",
      "exportName": "cur2",
      "billingPeriod": {"start": "2025-01-01T00:00:00.000Z", "end": "2025-02-01T00:00:00.000Z"},
      "bucket": "billing",
      "dataFiles": ["s3://billing/exports/cur2/data/BILLING_PERIOD=2025-01/cur2-00001.snappy.parquet"],
      "columns": [{"name": "bill_invoice_id", "type": "string"}]
    }"#;

    #[test]
    fn legacy_period_manifest_is_recognised_and_assembly_copies_are_not() {
        assert_eq!(
            classify("cur/daily/20231101-20231201/daily-Manifest.json"),
            Some(ManifestKey { layout: Layout::Cur, report_dir: "cur/daily".into(), period: "2023-11".into() })
        );
        assert_eq!(classify("cur/daily/20231101-20231201/9b7a/daily-Manifest.json"), None);
        assert_eq!(classify("daily/20231101-20231201/daily-Manifest.json").unwrap().report_dir, "daily");
        // Report name and manifest name must agree.
        assert_eq!(classify("cur/other/20231101-20231201/daily-Manifest.json"), None);
        assert_eq!(classify("cur/daily/20231101-20231201/daily-1.csv.gz"), None);
        assert_eq!(classify("cur/daily/2023110-20231201/daily-Manifest.json"), None);
    }

    #[test]
    fn cur2_manifests_in_overwrite_and_create_new_folders() {
        let expected =
            Some(ManifestKey { layout: Layout::Cur2, report_dir: "exports/cur2".into(), period: "2025-01".into() });
        assert_eq!(classify("exports/cur2/metadata/BILLING_PERIOD=2025-01/cur2-Manifest.json"), expected);
        assert_eq!(
            classify("exports/cur2/metadata/BILLING_PERIOD=2025-01/20250102T0315Z/cur2-Manifest.json"),
            expected
        );
        assert_eq!(classify("exports/cur2/metadata/BILLING_PERIOD=2025-13/cur2-Manifest.json"), None);
        assert_eq!(classify("exports/cur2/metadata/BILLING_PERIOD=2025-01/other-Manifest.json"), None);
        assert_eq!(classify("exports/cur2/data/BILLING_PERIOD=2025-01/cur2-00001.csv.gz"), None);
    }

    #[test]
    fn legacy_manifest_names_its_assembly_and_keys() {
        let m = parse(Layout::Cur, LEGACY.as_bytes(), "billing").unwrap();
        assert_eq!(m.id, "9b7a5b3e-1c1d-4c3e-9f6a-2f0b1b2c3d4e");
        assert_eq!(m.period, "2023-11");
        assert_eq!(m.keys.len(), 2);
        assert!(m.keys[1].ends_with("/daily-2.csv.gz"));
    }

    #[test]
    fn keys_of_reports_created_without_a_prefix_keep_their_leading_slash() {
        // AWS delivered such reports under `/<report>/...`, and their manifests say so.
        let key = "/daily/20190501-20190601/9b7a5b3e-1c1d-4c3e-9f6a-2f0b1b2c3d4e/daily-1.csv.gz";
        let json = LEGACY
            .replace("cur/daily/20231101-20231201/9b7a5b3e-1c1d-4c3e-9f6a-2f0b1b2c3d4e/daily-1.csv.gz", key)
            .replace("20231101T000000.000Z", "20190501T000000.000Z");
        let m = parse(Layout::Cur, json.as_bytes(), "billing").unwrap();
        assert_eq!(m.keys[0], key);
        assert_eq!(m.period, "2019-05");
        assert_eq!(
            classify("/daily/20190501-20190601/daily-Manifest.json"),
            Some(ManifestKey { layout: Layout::Cur, report_dir: "/daily".into(), period: "2019-05".into() })
        );
        assert_eq!(classify("/daily/20190501-20190601/9b7a/daily-Manifest.json"), None);
        let cur2 = CUR2.replace("s3://billing/exports/", "s3://billing//");
        let m = parse(Layout::Cur2, cur2.as_bytes(), "billing").unwrap();
        assert_eq!(m.keys, vec!["/cur2/data/BILLING_PERIOD=2025-01/cur2-00001.snappy.parquet"]);
        assert_eq!(classify("/cur2/metadata/BILLING_PERIOD=2025-01/cur2-Manifest.json").unwrap().report_dir, "/cur2");
    }

    #[test]
    fn cur2_manifest_data_files_become_keys_in_the_same_bucket() {
        let m = parse(Layout::Cur2, CUR2.as_bytes(), "billing").unwrap();
        assert_eq!(m.id, "5d1e7c1a-8d55-4f4b-b7d5-0c8a1f3c0e21");
        assert_eq!(m.period, "2025-01");
        assert_eq!(m.keys, vec!["exports/cur2/data/BILLING_PERIOD=2025-01/cur2-00001.snappy.parquet"]);
        let err = parse(Layout::Cur2, CUR2.as_bytes(), "elsewhere").unwrap_err();
        assert!(err.contains("is in bucket billing, not elsewhere"), "{err}");
    }

    #[test]
    fn bad_manifests_say_what_is_wrong() {
        assert!(parse(Layout::Cur, b"{}", "b").unwrap_err().contains("assemblyId"));
        assert!(parse(Layout::Cur2, b"[1]", "b").unwrap_err().starts_with("not a Data Exports manifest"));
        let zip = LEGACY.replace("\"GZIP\"", "\"ZIP\"");
        assert!(parse(Layout::Cur, zip.as_bytes(), "billing").unwrap_err().contains("ZIP is not supported"));
        let escape = LEGACY.replace("daily-2.csv.gz", "../../../etc/passwd");
        assert!(parse(Layout::Cur, escape.as_bytes(), "billing").unwrap_err().contains("unsafe"));
        for unsafe_key in ["//daily/x.csv.gz", "/", "daily//x.csv.gz", "daily/x/", "/daily/./x.csv.gz", ""] {
            let json = LEGACY
                .replace("cur/daily/20231101-20231201/9b7a5b3e-1c1d-4c3e-9f6a-2f0b1b2c3d4e/daily-1.csv.gz", unsafe_key);
            let err = parse(Layout::Cur, json.as_bytes(), "billing").unwrap_err();
            assert!(err.contains(&format!("unsafe or empty object key {unsafe_key:?}")), "{err}");
        }
        let bad_start = LEGACY.replace("20231101T000000.000Z", "soon");
        assert!(parse(Layout::Cur, bad_start.as_bytes(), "billing").unwrap_err().contains("not a date"));
    }

    #[test]
    fn year_months() {
        assert!(is_year_month("2025-01"));
        assert!(!is_year_month("2025-00"));
        assert!(!is_year_month("2025-1"));
        assert!(!is_year_month("202501"));
    }
}
