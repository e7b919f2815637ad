//! Closed billing periods: `<lake>/locks/<YYYY-MM>.json`. Attribution of a
//! locked period needs an explicit restatement (`tally attribute --restate`),
//! which is recorded in the `restatements` table. A lock is a plain file so
//! it can also be created, reviewed or removed by hand.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Lake;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub period: String,
    /// RFC 3339, UTC.
    pub locked_at: String,
    pub by: String,
    pub message: String,
}

impl Lock {
    pub fn describe(&self) -> String {
        format!("locked by {} at {}: {}", self.by, self.locked_at, self.message)
    }
}

fn path(lake: &Lake, period: &str) -> PathBuf {
    lake.table_dir("locks").join(format!("{period}.json"))
}

/// The lock on `period`, if any.
pub fn get(lake: &Lake, period: &str) -> Result<Option<Lock>, String> {
    let file = path(lake, period);
    match std::fs::read_to_string(&file) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| format!("{}: {e}", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", file.display())),
    }
}

/// Every lock, by period.
pub fn all(lake: &Lake) -> Result<Vec<Lock>, String> {
    let Ok(entries) = std::fs::read_dir(lake.table_dir("locks")) else { return Ok(Vec::new()) };
    let mut periods: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json").map(str::to_string))
        .collect();
    periods.sort();
    periods.into_iter().filter_map(|p| get(lake, &p).transpose()).collect()
}

/// Locks `period`; an existing lock is kept as it is and returned.
pub fn lock(lake: &Lake, period: &str, by: &str, message: &str) -> Result<(Lock, bool), String> {
    if let Some(existing) = get(lake, period)? {
        return Ok((existing, false));
    }
    let lock = Lock {
        period: period.to_string(),
        locked_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        by: by.to_string(),
        message: message.to_string(),
    };
    let file = path(lake, period);
    let dir = file.parent().expect("locks folder");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = dir.join(format!(".{period}.json.partial"));
    let text = serde_json::to_string_pretty(&lock).expect("serialisable") + "\n";
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &file).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok((lock, true))
}

/// Removes the lock on `period`; `None` when it was not locked.
pub fn unlock(lake: &Lake, period: &str) -> Result<Option<Lock>, String> {
    let existing = get(lake, period)?;
    if existing.is_some() {
        let file = path(lake, period);
        std::fs::remove_file(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(existing)
}

/// Who is running tally: `TALLY_USER`, else `USER`, else `unknown`.
pub fn current_user() -> String {
    std::env::var("TALLY_USER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "unknown".to_string())
}
