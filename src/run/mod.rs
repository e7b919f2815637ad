//! `tally run`: the whole pipeline for cron and CI, configured by
//! `tally.toml`, one run per lake at a time, skipping what did not change.
//!
//! - [`config`]: `tally.toml`, and the example `tally init` writes
//! - [`derived`]: budgets -> findings -> weekly report -> nudges, after attribution
//! - [`pipeline`]: the orchestration: lock, pull, ingest -> attribute -> derived, push
//! - [`plan`]: what a run is asked to do, and why it stops
//! - `ingest_step`, `attribute_step`, `state`: what changed since the last run, and acting on it
//! - [`remote`]: a lake kept in S3, mirrored to a local copy
//! - [`summary`]: what a run did, for people and as JSON

mod attribute_step;
pub mod config;
pub mod derived;
mod ingest_step;
mod pause;
pub mod pipeline;
pub mod plan;
pub mod remote;
mod state;
pub mod summary;
