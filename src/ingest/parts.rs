//! Local copies of AWS deliveries are complete only with every part.
//!
//! A month of CUR often arrives as several files (`report-1.csv.gz`,
//! `report-2.csv.gz`, ...), and a month is replaced whole: ingesting one part
//! alone would replace the month with that part. When a file sits where AWS
//! puts it, beside (or under) the manifest that lists it, every file that
//! manifest lists must be in the same ingest.
//!
//! Where manifests sit (see [`super::manifest`] for the S3 layouts):
//! - legacy CUR: the manifest in the file's own folder (an assembly folder, or
//!   the period folder of an overwriting report), and the period-level one
//!   above an assembly folder; keys continue below the manifest's folder name;
//! - CUR 2.0: `<export>/metadata/BILLING_PERIOD=P/**/<export>-Manifest.json`
//!   for files under `<export>/data/BILLING_PERIOD=P/`; keys continue below `<export>`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::manifest;

/// Manifests that list some of `files` but not all of theirs: a message per
/// delivery, naming the manifest, how many files it lists and which are missing.
pub fn incomplete(files: &[PathBuf]) -> Vec<String> {
    let given: BTreeSet<PathBuf> = files.iter().map(|f| absolute(f)).collect();
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for file in &given {
        for (manifest, anchor) in candidates(file) {
            if !seen.insert(manifest.clone()) {
                continue;
            }
            let Ok(json) = std::fs::read(&manifest) else { continue };
            let Some((layout, keys)) = manifest::listed_keys(&json) else { continue };
            let listed: Vec<PathBuf> = keys.iter().filter_map(|k| local_path(&anchor, k)).collect();
            if !listed.iter().any(|l| given.contains(l)) {
                continue; // a manifest of another delivery in the same folder
            }
            let missing: Vec<String> =
                listed.iter().filter(|l| !given.contains(*l)).map(|l| l.display().to_string()).collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "{}: this {} manifest lists {} file(s) and the ingest has {} of them (missing: {})",
                    manifest.display(),
                    layout.name(),
                    listed.len(),
                    listed.len() - missing.len(),
                    missing.join(", ")
                ));
            }
        }
    }
    problems
}

/// Manifests that could list `file`, each with the local folder its keys continue below.
fn candidates(file: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut found = Vec::new();
    let folders = file.ancestors().skip(1).take(2);
    for folder in folders {
        found.extend(manifests_in(folder).into_iter().map(|m| (m, folder.to_path_buf())));
    }
    // CUR 2.0: <export>/data/BILLING_PERIOD=P/<file>, manifests under <export>/metadata/BILLING_PERIOD=P/.
    let period = file.ancestors().skip(1).find(|a| {
        a.file_name().is_some_and(|n| n.to_string_lossy().starts_with("BILLING_PERIOD="))
            && a.parent().and_then(Path::file_name).is_some_and(|n| n == "data")
    });
    if let Some(period) = period {
        let export = period.parent().and_then(Path::parent).expect("data has a parent");
        let metadata = export.join("metadata").join(period.file_name().expect("named"));
        for entry in walkdir::WalkDir::new(&metadata).max_depth(3).into_iter().filter_map(Result::ok) {
            if entry.file_type().is_file() && is_manifest(entry.path()) {
                found.push((entry.into_path(), export.to_path_buf()));
            }
        }
    }
    found
}

fn manifests_in(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let mut found: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| is_manifest(p)).collect();
    found.sort();
    found
}

fn is_manifest(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().ends_with("-Manifest.json")) && path.is_file()
}

/// Where `key` lies locally: below `anchor`, with the key's segments after the
/// last one named like `anchor`. `None` when the key does not pass through it
/// or would climb out of it.
fn local_path(anchor: &Path, key: &str) -> Option<PathBuf> {
    let name = anchor.file_name()?.to_string_lossy().into_owned();
    let segments: Vec<&str> = key.split('/').filter(|s| !s.is_empty()).collect();
    let at = segments.iter().rposition(|s| *s == name)?;
    let rest = &segments[at + 1..];
    if rest.is_empty() || rest.iter().any(|s| *s == "." || *s == "..") {
        return None;
    }
    Some(rest.iter().fold(anchor.to_path_buf(), |path, s| path.join(s)))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_continue_below_the_anchor() {
        let anchor = Path::new("/l/cur/daily/20231101-20231201/abc");
        assert_eq!(
            local_path(anchor, "cur/daily/20231101-20231201/abc/daily-1.csv.gz"),
            Some(PathBuf::from("/l/cur/daily/20231101-20231201/abc/daily-1.csv.gz"))
        );
        // Reports created without a prefix list keys starting with "/".
        assert_eq!(
            local_path(anchor, "/daily/20231101-20231201/abc/daily-2.csv.gz"),
            Some(PathBuf::from("/l/cur/daily/20231101-20231201/abc/daily-2.csv.gz"))
        );
        assert_eq!(local_path(anchor, "other/x.csv.gz"), None);
        assert_eq!(local_path(anchor, "abc/../../etc/passwd"), None);
    }

    #[test]
    fn a_missing_part_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let assembly = dir.path().join("daily/20231101-20231201/abc");
        std::fs::create_dir_all(&assembly).unwrap();
        for n in 1..=2 {
            std::fs::write(assembly.join(format!("daily-{n}.csv")), "x").unwrap();
        }
        let manifest = r#"{"assemblyId": "abc", "billingPeriod": {"start": "20231101T000000.000Z"},
            "reportKeys": ["p/daily/20231101-20231201/abc/daily-1.csv", "p/daily/20231101-20231201/abc/daily-2.csv"]}"#;
        std::fs::write(assembly.join("daily-Manifest.json"), manifest).unwrap();
        let one = vec![assembly.join("daily-1.csv")];
        let problems = incomplete(&one);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("lists 2 file(s) and the ingest has 1 of them (missing: "), "{problems:?}");
        assert!(problems[0].ends_with("daily-2.csv)"), "{problems:?}");
        let both = vec![assembly.join("daily-1.csv"), assembly.join("daily-2.csv")];
        assert!(incomplete(&both).is_empty());
    }
}
