//! `tally report` (see issue).
