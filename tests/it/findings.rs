//! `tally findings` (see issue).
