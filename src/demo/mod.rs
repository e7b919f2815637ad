//! `tally demo`: a synthetic company, written as AWS CUR files.

pub mod generate;
pub mod metrics;
pub mod rates;
