//! Turning the paths a user typed into the billing files to read: a file, a
//! folder (searched recursively) or a glob. Sorted, so every run reads in
//! the same order and writes the same bytes.

use std::path::{Path, PathBuf};

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
            walk(&path, input, usize::MAX, &mut |file| {
                if !is_ignored(file) {
                    files.push(file.to_path_buf());
                }
            })?;
            if files.len() == before {
                return Err(format!("{input}: folder has no billing files"));
            }
        } else if input.contains(['*', '?', '[']) {
            let pattern = glob::Pattern::new(input).map_err(|e| format!("{input}: bad glob: {e}"))?;
            let options = glob::MatchOptions { require_literal_separator: true, ..Default::default() };
            let before = files.len();
            let (base, implicit) = literal_base(input);
            // Without `**` a glob reaches only as deep as its own components.
            let depth = if input.contains("**") {
                usize::MAX
            } else {
                Path::new(input).components().count() - if implicit { 0 } else { base.components().count() }
            };
            if base.is_dir() {
                walk(&base, input, depth, &mut |file| {
                    // `*.csv` starts from "." implicitly: match what the user wrote, without "./".
                    let name = if implicit { file.strip_prefix(".").unwrap_or(file) } else { file };
                    if pattern.matches_path_with(name, options) {
                        files.push(file.to_path_buf());
                    }
                })?;
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

/// Every file under `folder`, in name order. Symlinks are followed, to files
/// and folders alike, but a link back to a folder already being walked (a loop)
/// is skipped with a warning: walking it would never end.
fn walk(folder: &Path, input: &str, depth: usize, found: &mut dyn FnMut(&Path)) -> Result<(), String> {
    for entry in walkdir::WalkDir::new(folder).follow_links(true).max_depth(depth).sort_by_file_name() {
        match entry {
            Ok(entry) if entry.file_type().is_file() => found(entry.path()),
            Ok(_) => {}
            Err(e) if e.loop_ancestor().is_some() => {
                let at = e.path().map(|p| p.display().to_string()).unwrap_or_default();
                tracing::warn!("{input}: skipping {at}: a symlink back to a folder above it (a loop)");
            }
            Err(e) => return Err(format!("{input}: {e}")),
        }
    }
    Ok(())
}

/// The folder a glob starts from: its components before the first with a
/// wildcard; true when there are none and the search starts from ".".
fn literal_base(pattern: &str) -> (PathBuf, bool) {
    let mut base = PathBuf::new();
    for component in Path::new(pattern).components() {
        if component.as_os_str().to_string_lossy().contains(['*', '?', '[']) {
            break;
        }
        base.push(component);
    }
    if base.as_os_str().is_empty() { (PathBuf::from("."), true) } else { (base, false) }
}
