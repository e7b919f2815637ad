//! Careless and hostile input: one test (or a few) per way a user, an export or
//! an attacker can try to break tally's promise that every dollar lands once,
//! exactly, and that a refused run changes nothing. Each test asserts the exit
//! code, the message (file, row, column) and, for refusals, that the lake's
//! committed files are byte-identical before and after.

mod chat;
mod mappings;
mod markdown;
