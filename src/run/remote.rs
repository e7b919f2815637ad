//! A lake kept in S3 (`lake = "s3://bucket/prefix"` in tally.toml).
//!
//! tally works on a local copy (`lake_cache`) and mirrors it: a run pulls the
//! remote lake, runs the pipeline on the copy exactly as on a local lake, then
//! pushes what changed. Every lake file is immutable once written and replaced
//! whole, so the mirror moves whole objects, and each object in S3 is replaced
//! atomically: a reader (Athena, DuckDB, Spark) sees an old or a new file, never
//! part of one. Between the first and last object of a push a reader may see
//! some months new and others old, as with any S3 table without a catalog.
//!
//! Who is right, the copy or S3:
//! - Normally S3. A pull makes the copy equal to S3, so a fresh CI machine, or a
//!   copy left half-written by a killed run, starts from what was last pushed.
//! - After the pipeline finished, the copy. `_run/push_pending` is written before
//!   a push and removed after it; a run that finds it (a push was killed) pushes
//!   first, so finished work is never thrown away or half-published.
//!
//! One run per lake across machines: `_run/lock.json` in S3, created only if
//! absent (S3 conditional writes). A lock older than [`STALE_AFTER_HOURS`] is
//! from a run that died and is taken over.
//!
//! `_run/` and `_staging/` of the copy stay local (run state, locks, work in progress).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hashing::{hex, sha256_file};
use crate::ingest::s3::{S3Options, build_store, describe, parse_url};

/// A remote lock this old is from a run that died (runs take minutes, not hours).
pub const STALE_AFTER_HOURS: i64 = 6;
/// Files moved at once.
const PARALLEL: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("lake {url}: {message}")]
    Store { url: String, message: String },
    #[error("lake copy {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "another tally run holds the lake's lock {url}/_run/lock.json ({holder}); wait for it to finish, \
         or delete that object if you know the run is dead"
    )]
    Held { url: String, holder: String },
}

/// What a pull or push moved.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Moved {
    pub files: u64,
    pub bytes: u64,
    pub deleted: u64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct RemoteStep {
    pub url: String,
    pub cache: String,
    /// A killed run's finished work, pushed before this run pulled.
    pub resumed_push: bool,
    pub pulled: Moved,
    pub pushed: Moved,
    pub duration_ms: u64,
}

pub struct RemoteLake {
    url: String,
    store: Arc<AmazonS3>,
    prefix: String,
    cache: PathBuf,
}

/// `_run/remote.json` in the copy: each mirrored file as last seen in S3 and on disk.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    url: String,
    files: BTreeMap<String, Mirrored>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Mirrored {
    e_tag: Option<String>,
    size: u64,
    sha256: String,
    local_len: u64,
    local_mtime_ns: i64,
}

#[derive(Serialize, Deserialize)]
struct LockBody {
    pid: u32,
    host: String,
    /// Seconds since the Unix epoch.
    started_at: i64,
}

pub struct RemoteLock {
    store: Arc<AmazonS3>,
    location: ObjectPath,
}

impl RemoteLock {
    /// Deletes the lock object; a run that dies before this leaves it to expire.
    pub async fn release(self) {
        if let Err(e) = self.store.delete(&self.location).await {
            tracing::warn!("could not delete the lake's lock {}: {}", self.location, describe(&e));
        }
    }
}

impl RemoteLake {
    pub async fn open(url: &str, cache: &Path, endpoint: Option<String>) -> Result<RemoteLake, RemoteError> {
        let fail = |message: String| RemoteError::Store { url: url.to_string(), message };
        let (bucket, prefix) = parse_url(url).map_err(fail)?;
        let store = build_store(&bucket, &S3Options { endpoint }).await.map_err(fail)?;
        Ok(RemoteLake {
            url: url.trim_end_matches('/').to_string(),
            store: Arc::new(store),
            prefix,
            cache: cache.into(),
        })
    }

    /// The local copy the pipeline runs on.
    pub fn cache(&self) -> &Path {
        &self.cache
    }

    fn key(&self, rel: &str) -> ObjectPath {
        if self.prefix.is_empty() { ObjectPath::from(rel) } else { ObjectPath::from(format!("{}/{rel}", self.prefix)) }
    }

    fn store_error(&self, what: &str, e: &object_store::Error) -> RemoteError {
        RemoteError::Store { url: self.url.clone(), message: format!("{what}: {}", describe(e)) }
    }

    fn io(path: &Path) -> impl Fn(std::io::Error) -> RemoteError + '_ {
        move |source| RemoteError::Io { path: path.to_path_buf(), source }
    }

    /// Takes the lake's lock in S3, or says who holds it.
    pub async fn lock(&self) -> Result<RemoteLock, RemoteError> {
        let location = self.key(&format!("{}/lock.json", crate::lake::catalogue::RUN));
        let now = chrono::Utc::now().timestamp();
        let body = LockBody { pid: std::process::id(), host: crate::lake::lock::hostname(), started_at: now };
        let payload = serde_json::to_vec(&body).expect("serialisable");
        for _ in 0..2 {
            let create = PutOptions { mode: PutMode::Create, ..Default::default() };
            match self.store.put_opts(&location, PutPayload::from(payload.clone()), create).await {
                Ok(_) => return Ok(RemoteLock { store: Arc::clone(&self.store), location }),
                Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {}
                Err(e) => return Err(self.store_error("taking the run lock", &e)),
            }
            let held = match self.store.get(&location).await {
                Ok(r) => r.bytes().await.ok().and_then(|b| serde_json::from_slice::<LockBody>(&b).ok()),
                Err(object_store::Error::NotFound { .. }) => continue, // released meanwhile
                Err(e) => return Err(self.store_error("reading the run lock", &e)),
            };
            let Some(held) = held else {
                return Err(RemoteError::Held { url: self.url.clone(), holder: "unreadable lock object".into() });
            };
            let since =
                chrono::DateTime::from_timestamp(held.started_at, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
            if now - held.started_at < STALE_AFTER_HOURS * 3600 {
                let holder = format!("pid {} on {} since {since}", held.pid, held.host);
                return Err(RemoteError::Held { url: self.url.clone(), holder });
            }
            tracing::warn!(
                "the lake's lock was taken {since} by pid {} on {}, over {STALE_AFTER_HOURS} h ago: taking it over",
                held.pid,
                held.host
            );
            self.store.delete(&location).await.map_err(|e| self.store_error("removing a stale lock", &e))?;
        }
        Err(RemoteError::Held { url: self.url.clone(), holder: "another run, racing this one".into() })
    }

    fn marker(&self) -> PathBuf {
        crate::lake::Lake::new(&self.cache).run_dir().join("push_pending")
    }

    /// True when a run finished its work in the copy but was killed before its push ended.
    pub fn push_pending(&self) -> bool {
        self.marker().exists()
    }

    /// Marks the copy as ahead of S3, before a push.
    pub fn mark_push_pending(&self) -> Result<(), RemoteError> {
        let marker = self.marker();
        std::fs::create_dir_all(marker.parent().unwrap()).map_err(Self::io(&marker))?;
        std::fs::write(&marker, b"").map_err(Self::io(&marker))
    }

    fn record_path(&self) -> PathBuf {
        crate::lake::Lake::new(&self.cache).run_dir().join("remote.json")
    }

    fn load_record(&self) -> Record {
        let record: Record = std::fs::read_to_string(self.record_path())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        // A copy of another lake (or none yet) knows nothing.
        if record.url == self.url { record } else { Record { url: self.url.clone(), files: BTreeMap::new() } }
    }

    fn save_record(&self, record: &Record) -> Result<(), RemoteError> {
        let path = self.record_path();
        std::fs::create_dir_all(path.parent().unwrap()).map_err(Self::io(&path))?;
        let tmp = path.with_extension("json.partial");
        std::fs::write(&tmp, serde_json::to_string_pretty(record).expect("serialisable")).map_err(Self::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(Self::io(&path))
    }

    /// Lake files in S3: relative path -> (size, e_tag), without `_run/` and `_staging/`.
    async fn list_remote(&self) -> Result<BTreeMap<String, (u64, Option<String>)>, RemoteError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        let listing: Vec<_> =
            self.store.list(prefix.as_ref()).try_collect().await.map_err(|e| self.store_error("listing", &e))?;
        let strip = if self.prefix.is_empty() { 0 } else { self.prefix.len() + 1 };
        Ok(listing
            .into_iter()
            .map(|m| (m.location.as_ref()[strip..].to_string(), (m.size, m.e_tag)))
            .filter(|(rel, _)| is_mirrored(rel))
            .collect())
    }

    /// Lake files in the copy, relative to it.
    fn list_local(&self) -> Result<BTreeSet<String>, RemoteError> {
        let mut files = BTreeSet::new();
        if !self.cache.exists() {
            return Ok(files);
        }
        for entry in walkdir::WalkDir::new(&self.cache) {
            let entry = entry.map_err(|e| RemoteError::Io { path: self.cache.clone(), source: e.into() })?;
            if entry.file_type().is_file() {
                let rel = entry.path().strip_prefix(&self.cache).unwrap().display().to_string();
                if is_mirrored(&rel) && !is_partial(&rel) {
                    files.insert(rel);
                }
            }
        }
        Ok(files)
    }

    /// Makes the copy equal to S3: downloads what is new or changed there,
    /// deletes local files S3 no longer has.
    pub async fn pull(&self) -> Result<Moved, RemoteError> {
        let mut record = self.load_record();
        let remote = self.list_remote().await?;
        let mut moved = Moved::default();
        let mut wanted = Vec::new();
        for (rel, (size, e_tag)) in &remote {
            let path = self.cache.join(rel);
            let current = record.files.get(rel).is_some_and(|m| {
                m.e_tag == *e_tag
                    && m.size == *size
                    && local_meta(&path).is_some_and(|l| l == (m.local_len, m.local_mtime_ns))
            });
            if !current {
                wanted.push((rel.clone(), *size, e_tag.clone()));
            }
        }
        let results: Vec<Result<(String, Mirrored), RemoteError>> = futures::stream::iter(wanted)
            .map(|(rel, size, e_tag)| async move { self.download(&rel, size, e_tag).await.map(|m| (rel, m)) })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        absorb(&mut record, &mut moved, results)?;
        for rel in self.list_local()? {
            if !remote.contains_key(&rel) {
                let path = self.cache.join(&rel);
                std::fs::remove_file(&path).map_err(Self::io(&path))?;
                moved.deleted += 1;
            }
        }
        record.files.retain(|rel, _| remote.contains_key(rel));
        self.save_record(&record)?;
        Ok(moved)
    }

    /// Streams one object into the copy: a partial file beside it, then a rename.
    async fn download(&self, rel: &str, size: u64, e_tag: Option<String>) -> Result<Mirrored, RemoteError> {
        let path = self.cache.join(rel);
        let tmp = path.with_file_name(format!(".{}.partial", path.file_name().unwrap().to_string_lossy()));
        std::fs::create_dir_all(path.parent().unwrap()).map_err(Self::io(&path))?;
        let options = object_store::GetOptions { if_match: e_tag.clone(), ..Default::default() };
        let result = self
            .store
            .get_opts(&self.key(rel), options)
            .await
            .map_err(|e| self.store_error(&format!("reading {rel}"), &e))?;
        let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(Self::io(&tmp))?);
        let mut hasher = Sha256::new();
        let mut stream = result.into_stream();
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.store_error(&format!("reading {rel}"), &e))?;
            hasher.update(&chunk);
            file.write_all(&chunk).map_err(Self::io(&tmp))?;
            written += chunk.len() as u64;
        }
        let file = file.into_inner().map_err(|e| Self::io(&tmp)(e.into_error()))?;
        file.sync_all().map_err(Self::io(&tmp))?;
        if written != size {
            return Err(RemoteError::Store {
                url: self.url.clone(),
                message: format!("reading {rel}: received {written} of {size} bytes"),
            });
        }
        std::fs::rename(&tmp, &path).map_err(Self::io(&path))?;
        let (local_len, local_mtime_ns) = local_meta(&path).expect("just written");
        Ok(Mirrored { e_tag, size, sha256: hex(&hasher.finalize()), local_len, local_mtime_ns })
    }

    /// Makes S3 equal to the copy: uploads new and changed files, then deletes
    /// objects the copy no longer has, then clears the push-pending mark.
    pub async fn push(&self) -> Result<Moved, RemoteError> {
        let mut record = self.load_record();
        let local = self.list_local()?;
        let mut moved = Moved::default();
        let mut changed = Vec::new();
        for rel in &local {
            let path = self.cache.join(rel);
            let meta = local_meta(&path).ok_or_else(|| RemoteError::Io {
                path: path.clone(),
                source: std::io::Error::other("vanished while pushing"),
            })?;
            match record.files.get_mut(rel) {
                Some(m) if (m.local_len, m.local_mtime_ns) == meta => continue,
                Some(m) => {
                    // Rewritten with the same bytes (a deterministic re-run): nothing to send.
                    let sha = sha256_file(&path).map_err(Self::io(&path))?;
                    if sha == m.sha256 {
                        (m.local_len, m.local_mtime_ns) = meta;
                        continue;
                    }
                    changed.push(rel.clone());
                }
                None => changed.push(rel.clone()),
            }
        }
        let results: Vec<Result<(String, Mirrored), RemoteError>> = futures::stream::iter(changed)
            .map(|rel| async move { self.upload(&rel).await.map(|m| (rel, m)) })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        absorb(&mut record, &mut moved, results)?;
        // Deletions last, so a reader never misses a file that has a replacement.
        for rel in self.list_remote().await?.keys() {
            if !local.contains(rel) {
                self.store
                    .delete(&self.key(rel))
                    .await
                    .map_err(|e| self.store_error(&format!("deleting {rel}"), &e))?;
                moved.deleted += 1;
            }
        }
        record.files.retain(|rel, _| local.contains(rel));
        self.save_record(&record)?;
        let marker = self.marker();
        if marker.exists() {
            std::fs::remove_file(&marker).map_err(Self::io(&marker))?;
        }
        Ok(moved)
    }

    async fn upload(&self, rel: &str) -> Result<Mirrored, RemoteError> {
        let path = self.cache.join(rel);
        let (local_len, local_mtime_ns) = local_meta(&path).unwrap_or_default();
        let mut upload =
            object_store::buffered::BufWriter::new(Arc::clone(&self.store) as Arc<dyn ObjectStore>, self.key(rel));
        let mut file = std::fs::File::open(&path).map_err(Self::io(&path))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = std::io::Read::read(&mut file, &mut buffer).map_err(Self::io(&path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            tokio::io::AsyncWriteExt::write_all(&mut upload, &buffer[..n])
                .await
                .map_err(|e| RemoteError::Store { url: self.url.clone(), message: format!("writing {rel}: {e}") })?;
        }
        tokio::io::AsyncWriteExt::shutdown(&mut upload)
            .await
            .map_err(|e| RemoteError::Store { url: self.url.clone(), message: format!("writing {rel}: {e}") })?;
        let head =
            self.store.head(&self.key(rel)).await.map_err(|e| self.store_error(&format!("checking {rel}"), &e))?;
        Ok(Mirrored { e_tag: head.e_tag, size: head.size, sha256: hex(&hasher.finalize()), local_len, local_mtime_ns })
    }
}

/// Records each file moved, or stops at the first that failed (the record keeps what moved before it).
fn absorb(
    record: &mut Record,
    moved: &mut Moved,
    results: Vec<Result<(String, Mirrored), RemoteError>>,
) -> Result<(), RemoteError> {
    for result in results {
        let (rel, mirrored) = result?;
        moved.files += 1;
        moved.bytes += mirrored.size;
        record.files.insert(rel, mirrored);
    }
    Ok(())
}

/// Run state and work in progress stay with the copy.
fn is_mirrored(rel: &str) -> bool {
    crate::lake::Lake::is_data_path(rel)
}

/// A writer's temporary file (`.name.partial`), never a lake file.
fn is_partial(rel: &str) -> bool {
    Path::new(rel).file_name().is_some_and(|n| n.to_string_lossy().ends_with(".partial"))
}

fn local_meta(path: &Path) -> Option<(u64, i64)> {
    std::fs::metadata(path).ok().map(|m| (m.len(), m.mtime() * 1_000_000_000 + m.mtime_nsec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_state_and_staging_stay_local() {
        assert!(is_mirrored("line_items/provider=aws/billing_period=2026-08/part-1.parquet"));
        assert!(is_mirrored("locks/2026-08.json"));
        assert!(!is_mirrored("_run/state.json"));
        assert!(!is_mirrored("_staging/r1/x.parquet"));
        assert!(is_partial("budgets/.2026-08.parquet.partial"));
        assert!(!is_partial("budgets/2026-08.parquet"));
    }
}
