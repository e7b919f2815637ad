//! One module per subcommand: read the arguments, call the library, print
//! for people, return the exit code.

pub mod attribute;
pub mod demo;
pub mod ingest;
pub mod sql;
