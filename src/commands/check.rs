//! `tally check`: lint the ownership mappings, for CI on a pull request.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tally::attribute::Compiled;
use tally::attribute::check::{self, Severity};
use tally::lake::Lake;
use tally::lake::line_items::periods as lake_periods;

use crate::commands::MappingsArg;

pub const AFTER_HELP: &str = "\
Errors (exit 1):
  invalid      the folder does not compile: unknown team or pool, dangling parent, org or pool
               cycle, bad regex or glob, duplicate id (the first such problem, with file:line)
  shadowed     a rule can never win: an earlier rule matches every line it matches
  date-gap     rules with the same conditions leave days between their date ranges uncovered
Warnings (exit 0 unless --deny-warnings):
  tie          overlapping rules with equal precedence: only their ids' order decides
  unused-pool  no rule sends spend to the pool and no pool feeds it
  dead         with --lake: the rule matched no line item in the last --periods periods
  never-wins   with --lake: the rule matched line items but always lost on precedence

Examples:
  tally check --mappings mappings
  tally check --mappings mappings --lake lake --periods 3 --deny-warnings";

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    mappings: MappingsArg,
    /// Also replay the rules over the lake's line items to find dead rules
    #[arg(long, env = "TALLY_LAKE", value_name = "DIR")]
    lake: Option<PathBuf>,
    /// With --lake: how many of the latest billing periods to replay
    #[arg(long, default_value_t = 3, value_name = "N")]
    periods: usize,
    /// Exit 1 on warnings too
    #[arg(long)]
    deny_warnings: bool,
}

pub async fn run(args: CheckArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let compiled = match Compiled::load(&args.mappings.mappings) {
        Ok(compiled) => compiled,
        Err(e) => {
            println!("error[invalid] {e}");
            println!("1 error");
            return Ok(crate::commands::Exit::Error.into());
        }
    };
    let mut findings = check::lint(&compiled);
    if let Some(lake) = &args.lake {
        let lake = Lake::new(lake);
        let all = lake_periods(&lake);
        if all.is_empty() {
            anyhow::bail!("lake {} has no line items to replay the rules over", lake.root().display());
        }
        let recent = all[all.len().saturating_sub(args.periods.max(1))..].to_vec();
        let usage = check::usage(&lake, &compiled, &recent).map_err(anyhow::Error::msg)?;
        findings.extend(check::usage_findings(&compiled, &usage));
    }
    findings.sort_by_key(|f| (f.severity, f.file, f.line));
    for finding in &findings {
        println!("{finding}");
    }
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    let warnings = findings.len() - errors;
    if !quiet || errors + warnings > 0 {
        println!(
            "{errors} error(s), {warnings} warning(s) in {} rule(s), {} team(s), {} pool(s)",
            compiled.rules.rules.len(),
            compiled.org.teams().count(),
            compiled.mappings.pools.pools.len()
        );
    }
    Ok(if errors > 0 || (args.deny_warnings && warnings > 0) {
        crate::commands::Exit::Error.into()
    } else {
        ExitCode::SUCCESS
    })
}
