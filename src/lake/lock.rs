//! One writer per lake: `<lake>/_run/lock`, taken by every command that
//! writes the lake (`tally run`, ingest, attribute, lock, unlock, budget status,
//! findings, nudge, demo), so an ingest cannot delete a run's staging and two
//! attributions cannot swap the same period. Readers (`tally sql`, reports,
//! explain, diff, check) take no lock: every file is replaced by one `rename`.
//!
//! The authority is an advisory `flock` on that file: the kernel drops it when
//! the holder exits, however it exits (SIGKILL, OOM, power loss), so a killed
//! run never leaves a lock that blocks the next one. The file records the
//! holder's pid, host and start time, for the "held by" message and so the
//! next run can say which run died. A clean exit empties it; a run that finds
//! it non-empty (and gets the lock) reports that it recovered a stale lock.
//!
//! Where the filesystem has no `flock` (some network or FUSE mounts), the
//! recorded pid and host decide instead: held while that pid is alive on this
//! host, stale once it is gone; a holder on another host is taken as alive
//! (delete the file by hand if you know that run is dead).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who holds (or held) the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The command holding it (`tally ingest`); empty in records of older versions.
    #[serde(default)]
    pub command: String,
    pub pid: u32,
    pub host: String,
    /// RFC 3339, UTC.
    pub started_at: String,
}

impl Holder {
    fn me(command: &str) -> Holder {
        Holder {
            command: command.to_string(),
            pid: std::process::id(),
            host: hostname(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    pub fn describe(&self) -> String {
        let command = if self.command.is_empty() { String::new() } else { format!("{}, ", self.command) };
        format!("{command}pid {} on {} since {}", self.pid, self.host, self.started_at)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another tally command holds the lake's lock {} ({}); wait for it to finish",
        path.display(),
        holder.as_ref().map_or("holder unknown".to_string(), Holder::describe)
    )]
    Held { path: PathBuf, holder: Option<Holder> },
    #[error("lake lock {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// A held lake lock; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    pub path: PathBuf,
    /// The run that held the lock before and never released it (it was killed).
    pub recovered: Option<Holder>,
}

pub fn path(lake_root: &Path) -> PathBuf {
    lake_root.join(super::catalogue::RUN).join("lock")
}

/// Takes the lake's lock for `command` (e.g. `tally ingest`), or says who holds it.
pub fn acquire(lake_root: &Path, command: &str) -> Result<RunLock, LockError> {
    let path = path(lake_root);
    let io = |source| LockError::Io { path: path.clone(), source };
    std::fs::create_dir_all(path.parent().expect("lock has a folder")).map_err(io)?;
    // The file is never deleted by tally, so a lock taken on it is a lock on the path.
    // Someone deleting it by hand between open and flock is caught by comparing inodes.
    for _ in 0..5 {
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        let flocked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        let previous = read_holder(&mut file).map_err(io)?;
        if !flocked {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EWOULDBLOCK) => return Err(LockError::Held { path, holder: previous }),
                Some(libc::ENOLCK | libc::EOPNOTSUPP | libc::ENOSYS) => {
                    // No flock here: judge the recorded holder by pid and host.
                    if let Some(h) = &previous
                        && (h.host != hostname() || pid_alive(h.pid))
                    {
                        return Err(LockError::Held { path, holder: previous });
                    }
                }
                _ => return Err(io(e)),
            }
        }
        let same = std::fs::metadata(&path).map(|m| m.ino()).ok() == file.metadata().map(|m| m.ino()).ok();
        if !same {
            continue;
        }
        write_holder(&mut file, Some(&Holder::me(command))).map_err(io)?;
        return Ok(RunLock { file, path, recovered: previous });
    }
    Err(io(std::io::Error::other("the lock file keeps being replaced")))
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Emptied while still locked: an empty file means the last run ended cleanly.
        let _ = write_holder(&mut self.file, None);
    }
}

fn read_holder(file: &mut File) -> std::io::Result<Option<Holder>> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_string(&mut text)?;
    // A half-written record (killed mid-write) still means a run died holding it.
    Ok(match text.trim() {
        "" => None,
        t => Some(serde_json::from_str(t).unwrap_or(Holder {
            command: String::new(),
            pid: 0,
            host: "unknown".to_string(),
            started_at: "unknown".to_string(),
        })),
    })
}

fn write_holder(file: &mut File, holder: Option<&Holder>) -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    if let Some(h) = holder {
        file.write_all((serde_json::to_string(h).expect("serialisable") + "\n").as_bytes())?;
    }
    file.sync_all()
}

fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // Signal 0 checks existence; EPERM means it exists but belongs to someone else.
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
}

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok && end > 0 { String::from_utf8_lossy(&buf[..end]).into_owned() } else { "unknown".to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "tally test").unwrap();
        assert_eq!(first.recovered, None);
        match acquire(dir.path(), "tally test") {
            Err(LockError::Held { holder: Some(h), .. }) => assert_eq!(h.pid, std::process::id()),
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        let again = acquire(dir.path(), "tally test").unwrap();
        assert_eq!(again.recovered, None, "a clean release leaves nothing to recover");
    }

    #[test]
    fn a_record_left_by_a_dead_run_is_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, r#"{"pid":999999,"host":"h","started_at":"2026-01-01T00:00:00Z"}"#).unwrap();
        let lock = acquire(dir.path(), "tally test").unwrap();
        assert_eq!(lock.recovered.as_ref().map(|h| h.pid), Some(999999));
        assert!(!pid_alive(999_999_999));
        assert!(pid_alive(std::process::id()));
    }
}
