//! Every exit status tally ends with, in one place (`--help` pages list the ones each
//! command can give). Scripts and CI branch on these numbers: they never change meaning.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Ok = 0,
    /// An error: bad input, a broken mappings file (named with its line), an I/O failure.
    Error = 1,
    /// The command was used wrongly (a missing argument clap cannot see, a file already there).
    Usage = 2,
    /// Rows were quarantined and nothing was committed.
    Quarantined = 3,
    /// A budget is over its tolerance (`tally budget status`).
    BudgetBreach = 4,
    /// A reconciliation invariant broke; nothing was committed.
    Invariant = 5,
    /// Another command holds the lake's lock.
    Locked = 6,
    /// Some nudges could not be delivered; they stay in the outbox for the next run.
    Delivery = 7,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}
