//! `tally nudge` (see issue).
