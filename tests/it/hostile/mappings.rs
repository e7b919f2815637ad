//! org.toml written carelessly: cycles (with and without dated moves), two moves of
//! one team on one date, ids that would break `org_path` (a `/`-joined path). Each is
//! refused by `tally check` and `tally attribute` with the file, the line and what is
//! wrong, and a refused `tally attribute` leaves the lake's files as they were.

use std::path::Path;

use crate::{Lake, tally, tally_ok};

const RULES: &str = "[[rule]]\nid = \"team-tag\"\nprecedence = 100\nteam_from_tag = \"team\"\n";

fn mappings(dir: &Path, org: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("org.toml"), org).unwrap();
    std::fs::write(dir.join("rules.toml"), RULES).unwrap();
    dir.display().to_string()
}

/// `tally check` on `org`: exit 1 and exactly one error, at `line`.
fn assert_refused(org: &str, line: usize, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let folder = mappings(dir.path(), org);
    let run = tally(&["check", "--mappings", &folder]);
    assert_eq!(run.code, 1, "{org}\n{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, format!("error[invalid] {folder}/org.toml:{line}: {message}\n1 error\n"), "{org}");
}

#[test]
fn an_org_cycle_names_its_members_and_a_real_date() {
    // Parents alone: a cycle from the start that no move ends. It was reported "on -262143-01-01".
    assert_refused(
        "[nodes]\nacme = {}\nops = { parent = \"eng\" }\neng = { parent = \"ops\" }\n\n[teams.alpha]\nparent = \"eng\"\n",
        4,
        "org cycle in every period: eng -> ops -> eng",
    );
    // A move closes it: named from that date, at the move.
    assert_refused(
        "[nodes]\nacme = {}\ndata = { parent = \"eng\" }\n\n[nodes.eng]\nparent = \"acme\"\n\
         moves = [\n  { from = 2026-09-01, parent = \"acme\" },\n  { from = 2026-10-15, parent = \"data\" },\n]\n",
        9,
        "org cycle from 2026-10-15: eng -> data -> eng",
    );
    // ...and a later move opens it again.
    assert_refused(
        "[nodes]\nacme = {}\ndata = { parent = \"eng\" }\neng = { parent = \"acme\", moves = [\
         { from = 2026-10-15, parent = \"data\" }, { from = 2026-12-01, parent = \"acme\" }] }\n",
        4,
        "org cycle from 2026-10-15 until 2026-12-01: eng -> data -> eng",
    );
    // There from the start, until a move breaks it.
    assert_refused(
        "[nodes]\nacme = {}\neng = { parent = \"data\", moves = [{ from = 2026-10-15, parent = \"acme\" }] }\n\
         data = { parent = \"eng\" }\n",
        4,
        "org cycle before 2026-10-15: data -> eng -> data",
    );
}

#[test]
fn two_moves_of_one_team_on_one_date_are_refused() {
    assert_refused(
        "[nodes]\nacme = {}\ndata = { parent = \"acme\" }\nplatform = { parent = \"acme\" }\n\n\
         [teams.fraud]\nparent = \"acme\"\nmoves = [\n  { from = 2026-10-15, parent = \"data\" },\n  \
         { from = 2026-11-01, parent = \"acme\" },\n  { from = 2026-10-15, parent = \"platform\" },\n]\n",
        11,
        "team `fraud` moves twice on 2026-10-15 (under `data` and under `platform`): one move per date",
    );
    // The same for an org node, written as an array of tables.
    assert_refused(
        "[nodes]\nacme = {}\ndata = { parent = \"acme\" }\n\n\
         [[nodes.ml.moves]]\nfrom = 2026-03-01\nparent = \"data\"\n\n\
         [[nodes.ml.moves]]\nfrom = 2026-03-01\nparent = \"acme\"\n",
        9,
        "node `ml` moves twice on 2026-03-01 (under `data` and under `acme`): one move per date",
    );
}

#[test]
fn ids_that_would_break_org_paths_are_refused() {
    let rule = "ids may hold only letters, digits, `_`, `.` and `-` (org paths join them with `/`)";
    assert_refused(
        "[nodes]\nacme = {}\n\n[teams.\"payments/api\"]\nparent = \"acme\"\n",
        4,
        &format!("team id `payments/api`: {rule}"),
    );
    assert_refused(
        "[nodes]\nacme = {}\n\"eng org\" = { parent = \"acme\" }\n\n[teams.alpha]\nparent = \"acme\"\n",
        3,
        &format!("node id `eng org`: {rule}"),
    );
    assert_refused("[nodes]\nacme = {}\n\"\" = { parent = \"acme\" }\n", 3, &format!("node id ``: {rule}"));
    // What ids may hold: letters, digits, _ . - (as in fixtures/demo-mappings: `k8s-platform`).
    let dir = tempfile::tempdir().unwrap();
    let folder = mappings(
        dir.path(),
        "[nodes]\nacme = {}\n\"eng.v2\" = { parent = \"acme\" }\n\n[teams.ml_platform-2]\nparent = \"eng.v2\"\n",
    );
    let run = tally(&["check", "--mappings", &folder]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn a_refused_org_leaves_the_attributed_lake_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("one.csv");
    std::fs::write(
        &csv,
        "BillingAccountId,SubAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ServiceName,Tags\n\
         payer,111,USD,2026-08-01T00:00:00Z,2026-09-01T00:00:00Z,2026-08-01T00:00:00Z,2026-08-02T00:00:00Z,Usage,10,10,Compute,\"{\"\"team\"\":\"\"alpha\"\"}\"\n",
    )
    .unwrap();
    let lake = Lake::new();
    lake.ingest_ok(&[csv.to_str().unwrap()], &[]);
    let folder = mappings(&dir.path().join("mappings"), "[nodes]\nacme = {}\n\n[teams.alpha]\nparent = \"acme\"\n");
    tally_ok(&["attribute", "--lake", lake.arg(), "--mappings", &folder, "-q"]);
    let before = attributed_files(&lake.path);
    assert!(!before.is_empty());

    std::fs::write(
        Path::new(&folder).join("org.toml"),
        "[nodes]\nacme = {}\n\n[teams.\"acme/alpha\"]\nparent = \"acme\"\n",
    )
    .unwrap();
    let run = tally(&["attribute", "--lake", lake.arg(), "--mappings", &folder]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "{folder}/org.toml:4: team id `acme/alpha`: ids may hold only letters, digits, `_`, `.` and `-`"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(attributed_files(&lake.path), before);
    assert_eq!(lake.value("SELECT team, org_path FROM attributed"), "alpha,acme/alpha");
}

/// Every file under the lake's attributed table, with its bytes.
fn attributed_files(lake: &Path) -> Vec<(String, Vec<u8>)> {
    crate::support::files_under(lake, &lake.join("attributed"))
}
