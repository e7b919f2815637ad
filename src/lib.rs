//! tally: cloud cost attribution. Data flows one way:
//! billing files -> [`ingest`] -> [`lake`] -> [`attribute`] -> [`budget`], [`findings`]
//! -> [`report`], [`nudge`].
//!
//! The binary in `main.rs` is a thin shell over these modules; integration
//! tests and `bench/` drive the same code.

pub mod attribute;
pub mod budget;
pub mod calendar;
pub mod currency;
pub mod demo;
pub mod export;
pub mod findings;
pub mod hashing;
pub mod ingest;
pub mod lake;
pub mod metrics;
pub mod money;
pub mod nudge;
pub mod output;
pub mod provider;
pub mod queries;
pub mod report;
pub mod run;
pub mod schema;
pub mod timestamp;
