//! One module per subcommand: read the arguments, call the library, print
//! for people, return the exit code.

pub mod args;
pub mod attribute;
pub mod budget;
pub mod check;
pub mod demo;
pub mod diff;
pub mod exit;
pub mod explain;
pub mod export;
pub mod findings;
pub mod ingest;
pub mod init;
pub mod lock;
pub mod nudge;
pub mod report;
pub mod run;
pub mod sql;

use std::path::Path;

pub use args::{LakeArg, MappingsArg};
pub use exit::Exit;
use std::sync::Arc;

use tally::attribute::Ownership;
use tally::attribute::mappings::MappingError;
use tally::lake::lock::{LockError, RunLock};

/// A mappings folder loaded (and checked) once for the command: every step reads these.
pub fn load_mappings(dir: &Path) -> Result<Arc<Ownership>, MappingError> {
    Ownership::load(dir).map(Arc::new)
}

/// Takes the lake's lock for a command that writes the lake. A lock held by
/// another command ends this one with exit 6 (main maps [`LockError::Held`]).
/// A lake that does not exist yet is created only by commands that make one
/// (`create`: ingest, demo); the others leave it to fail on their own.
pub fn lock_lake(root: &Path, command: &str, create: bool) -> Result<Option<RunLock>, LockError> {
    if !create && !root.exists() {
        return Ok(None);
    }
    tally::lake::lock::acquire(root, command).map(Some)
}
