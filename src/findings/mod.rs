//! Efficiency findings: what a team should do, and what it already saved.
//!
//! Every finding lands in the lake's `findings` table, one row per finding, with
//! a `kind` column. Reports and nudges read that table, never the code that
//! computed it, so the table below is the contract between them:
//!
//! | column | meaning |
//! |---|---|
//! | `finding_id` | stable across runs for the same finding: a hash of kind and its key (team, resource, start date...) |
//! | `kind` | `anomaly`, `orphan`, `idle`, `commitment`, `storage_tiering`, `realized_savings` |
//! | `billing_period` | the month (`YYYY-MM`) the finding was measured in |
//! | `team`, `org_path` | the owner, or the likely owner (from account or naming) for orphans |
//! | `provider`, `SubAccountId`, `ServiceName`, `ResourceId` | where it is; empty when it does not apply |
//! | `start_date` | when it began (anomalies, idle resources), or when an initiative shipped |
//! | `title` | one line in plain words, safe to show as text |
//! | `detail` | the evidence and the assumptions behind any estimate |
//! | `currency` | `BillingCurrency` of the amounts |
//! | `monthly_cost` | what the thing costs per month now |
//! | `monthly_savings` | estimated monthly savings if acted on; for anomalies the excess over expected; for `realized_savings` the savings measured |
//! | `expected_monthly_savings` | `realized_savings` only: what the initiative promised |
//! | `effort_dev_days` | estimated effort to act on it |
//! | `status` | `open`, or for `realized_savings`: `verified` / `not_realized` / `too_early` |

pub const TABLE: &str = "findings";
