#!/usr/bin/env python3
"""The whole pipeline (issue 10): ingest, attribute and the weekly report queries, at one or
more sizes, tally against DuckDB (the peer) doing the same work in the same run.

    cargo build --release
    python3 bench/pipeline.py --rows 1000000 10000000 --out /tmp/pipeline --tally target/release/tally

Per size, each stage timed for both engines under /usr/bin/time -v (wall, CPU, peak RSS):
  1. ingest: the demo company's CUR (gzip CSV) -> Parquet lake (bench/run.py's two commands);
  2. attribute: the generated mappings of bench/attribution.py (12,305 rules, 20 pools) over
     that lake: `tally attribute` against bench/attribution_duckdb.py, then the per-line
     cross-check (every line item's winning rule, every (period, team) pair to the cent);
  2b. the floor under attribution (bench/write_floor.py): DuckDB only reading its input columns
     and only copying tally's `attributed` output to Parquet again;
  3. queries: the report SQL files in queries/ that the weekly report and `tally attribute`
     run (weekly spend by team, week drivers, weekly unallocated reasons, daily spend,
     coverage, unallocated reasons, daily budget series), placeholders filled in for the
     lake's last week, each file run unchanged by `tally sql` and by DuckDB over the same
     `attributed` Parquet files. Both sides start a process per query.
Rows per second per core = line items / CPU seconds (user + system) of the stage.
Writes <out>/results.json and prints a Markdown table. Big inputs are deleted per size unless
--keep. Never run from tests: timings are not assertions.
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import attribution  # noqa: E402
import run  # noqa: E402
import write_floor  # noqa: E402

QUERIES = ["weekly_spend_by_team", "week_drivers", "weekly_unallocated_reasons", "report_daily_spend",
           "coverage", "unallocated_reasons", "budget_daily", "team_top_resources"]

DUCK_SQL = """
import duckdb, sys
lake, path = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
for table in ("attributed", "line_items"):
    con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{lake}/{table}/**/*.parquet', hive_partitioning = true)")
rows = con.sql(open(path).read()).fetchall()
print(len(rows))
"""


def lake_window(lake):
    """The last charge day in the lake, its currency and periods: what the weekly report would use."""
    import duckdb
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    day, currency = con.sql(f"""SELECT max(CAST("ChargePeriodStart" AS DATE)), any_value("BillingCurrency")
        FROM read_parquet('{lake}/attributed/**/*.parquet', hive_partitioning = true)""").fetchall()[0]
    periods = [r[0] for r in con.sql(f"""SELECT DISTINCT billing_period
        FROM read_parquet('{lake}/attributed/**/*.parquet', hive_partitioning = true) ORDER BY 1""").fetchall()]
    return day, currency, periods


def fill(sql, as_of, currency, periods):
    """The placeholders the report code substitutes, as literals every engine reads."""
    d = lambda x: f"DATE '{x.isoformat()}'"  # noqa: E731
    month_start = as_of.replace(day=1)
    prior_month_end = month_start - datetime.timedelta(days=1)
    prior_month_start = prior_month_end.replace(day=1)
    prior_month_same = min(prior_month_start + (as_of - month_start), prior_month_end)
    values = {
        "as_of": d(as_of), "week_start": d(as_of - datetime.timedelta(days=6)),
        "prior_week_start": d(as_of - datetime.timedelta(days=13)), "prior_week_end": d(as_of - datetime.timedelta(days=7)),
        "month_start": d(month_start), "prior_month_start": d(prior_month_start), "prior_month_end": d(prior_month_same),
        "from": d(as_of - datetime.timedelta(days=34)), "currency": f"'{currency}'",
        "first_period": f"'{periods[0]}'", "last_period": f"'{periods[-1]}'",
        "periods": ", ".join(f"'{p}'" for p in periods),
        "since_period": (as_of - datetime.timedelta(days=13)).strftime("%Y-%m"),
    }
    # week_drivers.sql quotes its own {as_of}: DATE '{as_of}'.
    sql = sql.replace("DATE '{as_of}'", d(as_of)).replace("'{since_period}'", f"'{values['since_period']}'")
    for key, value in values.items():
        sql = sql.replace("{" + key + "}", value)
    return sql


def queries_stage(tally, lake, out):
    as_of, currency, periods = lake_window(lake)
    total = {"tally_s": 0.0, "duckdb_s": 0.0, "tally_cpu_s": 0.0, "duckdb_cpu_s": 0.0,
             "tally_peak_rss_mib": 0, "duckdb_peak_rss_mib": 0, "as_of": as_of.isoformat(), "per_query": {}}
    for name in QUERIES:
        path = os.path.join(ROOT, "queries", f"{name}.sql")
        if not os.path.exists(path):
            continue
        sql = fill(open(path).read(), as_of, currency, periods)
        filled = os.path.join(out, f"{name}.sql")
        with open(filled, "w") as f:
            f.write(sql)
        t = run.timed([tally, "sql", "--lake", lake, "--format", "csv", "--", sql], log=os.path.join(out, f"{name}.tally.log"))
        d = run.timed([sys.executable, "-c", DUCK_SQL, lake, filled], log=os.path.join(out, f"{name}.duckdb.log"))
        total["per_query"][name] = {"tally_s": round(t[0], 2), "duckdb_s": round(d[0], 2)}
        for side, (s, rss, cpu) in (("tally", t), ("duckdb", d)):
            total[f"{side}_s"] += s
            total[f"{side}_cpu_s"] += cpu
            total[f"{side}_peak_rss_mib"] = max(total[f"{side}_peak_rss_mib"], round(rss))
    total["ratio"] = round(total["tally_s"] / total["duckdb_s"], 2)
    for key in ("tally_s", "duckdb_s", "tally_cpu_s", "duckdb_cpu_s"):
        total[key] = round(total[key], 2)
    return total


def stage(t, d, line_items):
    (ts, trss, tcpu), (ds, drss, dcpu) = t, d
    return {"tally_s": round(ts, 2), "duckdb_s": round(ds, 2), "ratio": round(ts / ds, 2),
            "tally_cpu_s": round(tcpu, 2), "duckdb_cpu_s": round(dcpu, 2),
            "tally_peak_rss_mib": round(trss), "duckdb_peak_rss_mib": round(drss),
            "tally_rows_per_cpu_s": round(line_items / max(tcpu, 1e-9)),
            "duckdb_rows_per_cpu_s": round(line_items / max(dcpu, 1e-9))}


def tally_only(t, line_items):
    return {"tally_s": round(t[0], 2), "tally_cpu_s": round(t[2], 2), "tally_peak_rss_mib": round(t[1]),
            "tally_rows_per_cpu_s": round(line_items / max(t[2], 1e-9))}


def peer(cmd, result, key):
    """Times the DuckDB side; at the largest sizes it may run out of memory: that is recorded, not fatal."""
    try:
        return run.timed(cmd)
    except SystemExit as failure:
        result[key] = f"DuckDB failed: {str(failure)[-500:]}"
        print(result[key], file=sys.stderr)
        return None


def one_size(rows, out, tally, skip_duck_ingest):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    result = {"rows_asked": rows, "loadavg_at_start": open("/proc/loadavg").read().split()[:3]}
    demo, lake, duck_lake = (os.path.join(out, x) for x in ("demo", "tally-lake", "duckdb-lake"))
    run.timed([tally, "-q", "demo", "--no-ingest", "--rows", str(rows), "--out", demo])
    cur = os.path.join(demo, "cur")
    t = run.timed([tally, "-q", "ingest", cur, "--lake", lake])
    d = peer([sys.executable, "-c", run.DUCK_INGEST, cur, duck_lake], result, "ingest_peer") if not skip_duck_ingest else None
    check = run.check(lake, duck_lake) if d else None
    shutil.rmtree(demo, ignore_errors=True)
    shutil.rmtree(duck_lake, ignore_errors=True)

    vocab = attribution.lake_vocabulary(lake)
    line_items = vocab["line_items"]
    result["line_items"] = line_items
    result["ingest"] = stage(t, d, line_items) if d else tally_only(t, line_items)
    result["ingest"]["check_agrees"] = check["agree"] if check else None
    mappings = os.path.join(out, "mappings")
    result["mappings_sha256"] = attribution.generate_mappings(vocab, mappings)["sha256"]
    t = run.timed([tally, "attribute", "--lake", lake, "--mappings", mappings], log=os.path.join(out, "attribute.log"))
    duck_out = os.path.join(out, "duckdb-attributed")
    os.makedirs(duck_out)
    d = peer([sys.executable, os.path.join(HERE, "attribution_duckdb.py"), lake, mappings, duck_out], result, "attribute_peer")
    result["attribute"] = stage(t, d, line_items) if d else tally_only(t, line_items)
    if d:
        cross = attribution.cross_check(os.path.join(lake, "attributed"), os.path.join(duck_out, "attributed"))
        result["attribute"]["cross_check"] = {k: cross[k] for k in
                                              ("line_items_compared", "line_items_with_different_rule", "max_abs_diff", "agree")}
    shutil.rmtree(duck_out, ignore_errors=True)

    # What DuckDB needs only to read attribution's input and only to write its output.
    result["attribute"]["duckdb_floor"] = write_floor.measure(lake)

    queries_out = os.path.join(out, "queries")
    os.makedirs(queries_out)
    result["queries"] = queries_stage(tally, lake, queries_out)
    result["queries"].update({k: v for k, v in stage(
        (result["queries"]["tally_s"], result["queries"]["tally_peak_rss_mib"], result["queries"]["tally_cpu_s"]),
        (result["queries"]["duckdb_s"], result["queries"]["duckdb_peak_rss_mib"], result["queries"]["duckdb_cpu_s"]),
        line_items).items() if k.endswith("per_cpu_s")})
    result["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
    return result


def markdown(results):
    lines = ["| line items | stage | tally | DuckDB | tally / DuckDB | tally rows/s per core | tally peak RSS | DuckDB peak RSS |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for name in ("ingest", "attribute", "queries"):
            s = r[name]
            duck = f"{s['duckdb_s']:.2f} s" if "duckdb_s" in s else "-"
            ratio = f"**{s['ratio']:.2f}**" if "ratio" in s else "-"
            per_core = f"{s['tally_rows_per_cpu_s']:,}" if "tally_rows_per_cpu_s" in s else "-"
            drss = f"{s['duckdb_peak_rss_mib']:,} MiB" if "duckdb_peak_rss_mib" in s else "-"
            lines.append(f"| {r['line_items']:,} | {name} | {s['tally_s']:.2f} s | {duck} | {ratio} | {per_core} | "
                         f"{s['tally_peak_rss_mib']:,} MiB | {drss} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000, 50_000_000])
    parser.add_argument("--out", default="/tmp/tally-pipeline-bench", help="deleted and refilled per size")
    parser.add_argument("--tally", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "tally"))
    parser.add_argument("--skip-duckdb-ingest-above", type=int, default=100_000_000,
                        help="above this many rows only tally ingests (DuckDB's CSV ingest took 8.4 GiB at 10M)")
    parser.add_argument("--keep", action="store_true", help="keep the last size's lake")
    args = parser.parse_args()
    if not os.path.exists(args.tally):
        sys.exit(f"{args.tally} not found: run `cargo build --release` first (or pass --tally)")
    machine = {"cpus": os.cpu_count(), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
               "duckdb": __import__("duckdb").__version__,
               "tally_commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                              capture_output=True, text=True).stdout.strip()}
    results = []
    for rows in args.rows:
        out = os.path.join(args.out, f"rows-{rows}")
        results.append(one_size(rows, out, args.tally, rows > args.skip_duckdb_ingest_above))
        if not args.keep or rows != args.rows[-1]:
            shutil.rmtree(out, ignore_errors=True)
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump({"machine": machine, "results": results}, f, indent=2, default=str)
    print(json.dumps({"machine": machine, "results": results}, indent=2, default=str))
    print(markdown(results))
    if not all(r["attribute"].get("cross_check", {"agree": True})["agree"] for r in results):
        sys.exit("tally and DuckDB disagree on attribution (see cross_check)")


if __name__ == "__main__":
    main()
