//! Turning the paths a user typed into the billing files to read: a file, a
//! folder (searched recursively) or a glob. Sorted, so every run reads in
//! the same order and writes the same bytes.

use std::path::PathBuf;

/// Files under a folder that are clearly not billing data.
fn is_ignored(path: &std::path::Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    name.starts_with('.')
        || name.ends_with(".json") // AWS manifests sit beside CUR files
        || name.ends_with(".md")
        || name.ends_with(".txt")
        || name.ends_with(".yml")
        || name.ends_with(".yaml")
}

pub fn discover(inputs: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for input in inputs {
        let path = PathBuf::from(input);
        if path.is_file() {
            files.push(path);
        } else if path.is_dir() {
            let before = files.len();
            for entry in walkdir::WalkDir::new(&path).sort_by_file_name() {
                let entry = entry.map_err(|e| format!("{input}: {e}"))?;
                if entry.file_type().is_file() && !is_ignored(entry.path()) {
                    files.push(entry.into_path());
                }
            }
            if files.len() == before {
                return Err(format!("{input}: folder has no billing files"));
            }
        } else if input.contains(['*', '?', '[']) {
            let matches = glob::glob(input).map_err(|e| format!("{input}: bad glob: {e}"))?;
            let before = files.len();
            for m in matches {
                let m = m.map_err(|e| format!("{input}: {e}"))?;
                if m.is_file() {
                    files.push(m);
                }
            }
            if files.len() == before {
                return Err(format!("{input}: glob matches no files"));
            }
        } else {
            return Err(format!("{input}: no such file or folder"));
        }
    }
    files.sort();
    files.dedup();
    // `a/../a/f.csv` and `a/f.csv` are one file, not a copy: read it once, by its first spelling.
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.canonicalize().unwrap_or_else(|_| f.clone())));
    Ok(files)
}
