//! Data out of the lake for other tools: `tally export focus` writes the line items of every
//! ingested source as a conformant FOCUS cost-and-usage dataset ([`focus`]), with tally's owners
//! in FOCUS's split-cost-allocation columns when asked ([`allocation`]).

mod allocation;
pub mod focus;
