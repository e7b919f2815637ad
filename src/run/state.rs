//! `<lake>/_run/state.json`: what each period was last attributed from, so
//! `tally run` attributes only the periods whose inputs changed.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::lake::Lake;

/// `<lake>/_run/state.json`: what each period was last attributed from.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct AttributionState {
    /// Line-item file (relative to the lake) -> its content hash, keyed by
    /// its metadata so unchanged files are not re-read.
    pub files: BTreeMap<String, FileHash>,
    pub periods: BTreeMap<String, PeriodState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct FileMeta {
    pub len: u64,
    pub mtime_ns: i64,
    pub ino: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct FileHash {
    pub meta: FileMeta,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PeriodState {
    pub line_items: String,
    pub mappings_version: String,
    pub attributed: FileMeta,
}

pub(super) fn meta(path: &Path) -> std::io::Result<FileMeta> {
    let m = std::fs::metadata(path)?;
    Ok(FileMeta { len: m.len(), mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(), ino: m.ino() })
}

fn state_path(lake: &Lake) -> PathBuf {
    lake.run_dir().join("state.json")
}

pub(super) fn load(lake: &Lake) -> AttributionState {
    // An unreadable state only costs a full re-attribution.
    std::fs::read_to_string(state_path(lake)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

pub(super) fn save(lake: &Lake, state: &AttributionState) -> std::io::Result<()> {
    let path = state_path(lake);
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, serde_json::to_string_pretty(state).expect("serialisable") + "\n")?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &path)
}

/// Hash of a period's line-item files: relative paths and bytes.
pub(super) fn period_hash(
    lake: &Lake,
    period: &str,
    state: &mut AttributionState,
    seen: &mut BTreeSet<String>,
) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    for (_, file) in crate::lake::line_items::period_files(lake, Some(period)) {
        let rel = file.strip_prefix(lake.root()).unwrap_or(&file).display().to_string();
        let m = meta(&file)?;
        let sha = match state.files.get(&rel) {
            Some(h) if h.meta == m => h.sha256.clone(),
            _ => crate::hashing::sha256_file(&file)?,
        };
        state.files.insert(rel.clone(), FileHash { meta: m, sha256: sha.clone() });
        hasher.update(rel.as_bytes());
        hasher.update([0]);
        hasher.update(sha.as_bytes());
        hasher.update([0]);
        seen.insert(rel);
    }
    Ok(crate::hashing::hex(&hasher.finalize()))
}
