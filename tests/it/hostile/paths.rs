//! Paths as users and exports make them: symlink loops, symlinked files, odd
//! characters, and values that look like partition folders.

use std::os::unix::fs::symlink;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{cur_file, cur_row, write};
use crate::Lake;

/// Runs tally, killing it (and failing) if it has not finished in a minute.
fn tally_within_a_minute(args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            return (status.code().unwrap_or(-1), stderr);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tally {args:?} was still running after a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_glob_through_a_symlink_loop_ends_and_reads_each_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p");
    cur_file(&p, "a.csv", &[cur_row("li-1", "2026-09", 1, "2", "web")]);
    cur_file(&p.join("sub"), "b.csv", &[cur_row("li-2", "2026-09", 2, "3", "web")]);
    symlink(&p, p.join("sub/loop")).unwrap();
    let lake = Lake::new();
    let pattern = format!("{}/**/*.csv", p.display());
    let (code, stderr) = tally_within_a_minute(&["ingest", &pattern, "--lake", lake.arg()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("a symlink back to a folder above it (a loop)"), "{stderr}");
    assert_eq!(lake.value(r#"SELECT count(*), sum("BilledCost") FROM line_items"#), "2,5");
    // The folder itself, likewise.
    let again = Lake::new();
    let (code, stderr) = tally_within_a_minute(&["ingest", p.to_str().unwrap(), "--lake", again.arg()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(again.value(r#"SELECT count(*) FROM line_items"#), "2");
}

#[test]
fn a_folder_of_symlinked_files_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let real = cur_file(&dir.path().join("real"), "cur.csv", &[cur_row("li-1", "2026-09", 1, "2", "web")]);
    let links = dir.path().join("links");
    std::fs::create_dir_all(&links).unwrap();
    symlink(&real, links.join("cur.csv")).unwrap();
    let lake = Lake::new();
    lake.ingest_ok(&[links.to_str().unwrap()], &[]);
    assert_eq!(lake.value(r#"SELECT count(*) FROM line_items"#), "1");
}

#[test]
fn odd_file_names_and_partition_looking_values_stay_inside_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let header = "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,\
ChargeCategory,BilledCost,EffectiveCost,ServiceName,ProviderName";
    let row = |account: &str, provider: &str| {
        format!(
            "{account},USD,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z,\
             Usage,1,1,Compute,{provider}"
        )
    };
    let rows = [
        row("../../../escaped", "Acme"),
        row("provider=aws", "Acme"),
        row("a/b", "Acme"),
        row("acct", "../../x"),
        row("acct", "billing_period=1999-01"),
    ];
    let file = write(dir.path(), "odd names/É 'q'=1 [x].csv", &format!("{header}\n{}\n", rows.join("\n")));
    let lake = Lake::new();
    lake.ingest_ok(&[&file], &[]);
    assert_eq!(lake.value(r#"SELECT count(*), sum("BilledCost") FROM line_items"#), "5,5");
    // Every file tally wrote is under line_items/provider=<slug>/billing_period=2026-09/.
    for (path, _) in lake.data_files() {
        let parts: Vec<&str> = path.split('/').collect();
        assert_eq!(parts.len(), 4, "{path}");
        assert!(parts[1].starts_with("provider=") && !parts[1][9..].contains(['=', '.', '/']), "{path}");
        assert_eq!(parts[2], "billing_period=2026-09", "{path}");
    }
    assert!(!dir.path().join("escaped").exists() && !lake.path.parent().unwrap().join("escaped").exists());
    // The ids themselves are kept exactly, and the file's name too.
    assert_eq!(
        lake.rows(r#"SELECT DISTINCT "BillingAccountId" FROM line_items ORDER BY 1"#),
        vec!["../../../escaped", "a/b", "acct", "provider=aws"]
    );
    assert_eq!(lake.value(r#"SELECT DISTINCT "x_SourceFile" FROM line_items"#), file);
}
