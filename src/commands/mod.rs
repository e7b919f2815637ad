//! One module per subcommand: read the arguments, call the library, print
//! for people, return the exit code.

pub mod attribute;
pub mod budget;
pub mod check;
pub mod demo;
pub mod diff;
pub mod explain;
pub mod findings;
pub mod ingest;
pub mod init;
pub mod lock;
pub mod nudge;
pub mod report;
pub mod run;
pub mod sql;
