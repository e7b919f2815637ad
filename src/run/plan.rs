//! What `tally run` is asked to do, and why it stops.

use std::path::PathBuf;

use super::config::Sources;
use super::remote::RemoteError;
use crate::attribute::AttributeError;
use crate::ingest::IngestError;
use crate::lake::lock;

/// What to run, after config and flags are merged.
#[derive(Debug, Clone)]
pub struct Plan {
    pub config: Option<PathBuf>,
    pub lake: PathBuf,
    pub mappings: PathBuf,
    pub sources: Sources,
    pub progress: bool,
    /// `s3://bucket/prefix` when the lake lives in S3 and `lake` is its local copy.
    pub lake_s3: Option<String>,
    /// Budgets, findings, report and nudges after attribution.
    pub derived: super::derived::DerivedPlan,
}

/// Why a run stopped; each has its own exit code (see `commands::run`).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    LockHeld(lock::LockError),
    #[error(transparent)]
    RemoteLockHeld(RemoteError),
    #[error(
        "{rows} row(s) quarantined, so nothing was committed and nothing attributed; details: tally sql --lake {lake} \"SELECT * FROM quarantine WHERE run_id = '{run_id}'\""
    )]
    Quarantined { rows: usize, lake: String, run_id: String },
    #[error("{0}")]
    Invariant(String),
    #[error("{0}")]
    Delivery(String),
    #[error("{0:#}")]
    Other(anyhow::Error),
}

impl From<IngestError> for RunError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Reconciliation(_) => RunError::Invariant(e.to_string()),
            other => RunError::Other(anyhow::Error::new(other).context("ingest")),
        }
    }
}

impl From<AttributeError> for RunError {
    fn from(e: AttributeError) -> Self {
        match e {
            AttributeError::Invariant(_) => RunError::Invariant(e.to_string()),
            other => RunError::Other(anyhow::Error::new(other).context("attribute")),
        }
    }
}

impl RunError {
    /// A failure with no exit code of its own (exit 1), for `?` on any error.
    pub(super) fn failed(e: impl Into<anyhow::Error>) -> RunError {
        RunError::Other(e.into())
    }
}
