//! `tally run`: the whole pipeline for cron and CI, configured by
//! `tally.toml`, one run per lake at a time, skipping what did not change.
//!
//! - [`config`]: `tally.toml`, and the example `tally init` writes
//! - [`derived`]: budgets -> findings -> weekly report -> nudges, after attribution
//! - [`pipeline`]: ingest -> attribute the changed periods
//! - [`remote`]: a lake kept in S3, mirrored to a local copy
//! - [`summary`]: what a run did, for people and as JSON

pub mod config;
pub mod derived;
pub mod pipeline;
pub mod remote;
pub mod summary;
