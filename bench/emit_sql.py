#!/usr/bin/env python3
"""The mappings compiled to SQL (issue 24): `tally attribute` against DuckDB running the SQL
`tally attribute --emit-sql` writes for the same lake and mappings, in the same run.

    cargo build --release
    python3 bench/emit_sql.py --rows 1000000 10000000 --out /tmp/emit-sql --tally target/release/tally
    python3 bench/emit_sql.py --rows 1000000 --spark ...     # also Spark local[2] (pyspark)

Per size:
  1. the demo company (`tally demo --rows N`: three months, a reorg, pools of every kind, the
     shared EKS cluster billed with split cost allocation rows, a euro-billed family reported
     in dollars) generated, ingested and attributed by tally (not timed);
  2. timed, each under /usr/bin/time -v: `tally attribute` over the lake, then
     `tally attribute --emit-sql` and DuckDB (PyPI) running the emitted attribute.sql with its
     folder as working directory, as a user would;
  3. checked (not timed): both `attributed` tables hold the same rows, every column to the
     last decimal (DuckDB EXCEPT ALL, both ways);
  4. with --spark: the `--dialect spark` SQL run by Spark in local mode (tests/it/spark_run.py,
     local[2]), timed the same way (its CPU seconds include the JVM), and checked the same way.
Prints JSON per size: seconds, CPU seconds, peak RSS, the ratio tally / DuckDB, rows per second
per core for the SQL, and the check. Never run from tests: timings are not assertions.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import timed  # noqa: E402

RUN_SQL = "import duckdb; duckdb.connect().execute(open('attribute.sql').read())"

SAME = """
import duckdb, sys
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute("SET enable_progress_bar = false")
def table(root):
    return f"(SELECT COLUMNS(*)::VARCHAR FROM read_parquet('{root}/billing_period=*/*.parquet', hive_partitioning = true, hive_types = {{'billing_period': VARCHAR}}))"
a, b = table(sys.argv[1]), table(sys.argv[2])
rows = con.execute(f"SELECT count(*) FROM {a}").fetchone()[0]
only_a = con.execute(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})").fetchone()[0]
only_b = con.execute(f"SELECT count(*) FROM (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a})").fetchone()[0]
print(rows, only_a, only_b)
"""


def one(size, out, tally, spark):
    base = os.path.join(out, f"rows-{size}")
    shutil.rmtree(base, ignore_errors=True)
    demo = os.path.join(base, "demo")
    subprocess.run([tally, "demo", "--out", demo, "--rows", str(size), "-q"], check=True)
    lake, mappings = os.path.join(demo, "lake"), os.path.join(demo, "mappings")
    items = int(subprocess.run([tally, "sql", "--lake", lake, "--format", "csv", "SELECT count(*) FROM line_items"],
                               check=True, capture_output=True, text=True).stdout.split()[-1])

    t_wall, t_rss, t_cpu = timed([tally, "attribute", "--lake", lake, "--mappings", mappings, "-q"])
    sql = os.path.join(base, "sql")
    e_wall, _, e_cpu = timed([tally, "attribute", "--lake", lake, "--mappings", mappings, "--emit-sql", sql, "-q"])
    cwd = os.getcwd()
    os.chdir(sql)
    try:
        d_wall, d_rss, d_cpu = timed([sys.executable, "-c", RUN_SQL])
    finally:
        os.chdir(cwd)
    rows, only_tally, only_sql = map(int, subprocess.run(
        [sys.executable, "-c", SAME, os.path.join(lake, "attributed"), os.path.join(sql, "attributed")],
        check=True, capture_output=True, text=True).stdout.split())
    result = {
        "line_items": items,
        "attributed_rows": rows,
        "tally_attribute": {"seconds": round(t_wall, 2), "cpu_seconds": round(t_cpu, 2), "peak_rss_mib": t_rss},
        "emit_sql": {"seconds": round(e_wall, 2), "cpu_seconds": round(e_cpu, 2)},
        "duckdb_emitted_sql": {"seconds": round(d_wall, 2), "cpu_seconds": round(d_cpu, 2), "peak_rss_mib": d_rss,
                               "line_items_per_cpu_second": round(items / d_cpu) if d_cpu else None},
        "ratio_tally_over_duckdb": round(t_wall / d_wall, 2),
        "same_rows": only_tally == 0 and only_sql == 0,
        "rows_only_in_tally": only_tally,
        "rows_only_in_sql": only_sql,
    }
    if spark:
        spark_dir = os.path.join(base, "spark")
        subprocess.run([tally, "attribute", "--lake", lake, "--mappings", mappings, "--emit-sql", spark_dir,
                        "--dialect", "spark", "-q"], check=True)
        runner = os.path.join(os.path.dirname(HERE), "tests", "it", "spark_run.py")
        s_wall, s_rss, s_cpu = timed([sys.executable, runner, spark_dir])
        _, only_tally, only_spark = map(int, subprocess.run(
            [sys.executable, "-c", SAME, os.path.join(lake, "attributed"), os.path.join(spark_dir, "attributed")],
            check=True, capture_output=True, text=True).stdout.split())
        # The JVM is not a waited-for child of the runner: its CPU is not in /usr/bin/time's
        # figures, so throughput is per core of local[2] over the wall time.
        result["spark_local_2"] = {"seconds": round(s_wall, 2),
                                   "line_items_per_core_second": round(items / (2 * s_wall)),
                                   "same_rows": only_tally == 0 and only_spark == 0}
        result["same_rows"] = result["same_rows"] and result["spark_local_2"]["same_rows"]
    shutil.rmtree(os.path.join(base, "demo", "cur"), ignore_errors=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--out", default="/tmp/tally-emit-sql")
    parser.add_argument("--tally", default=os.path.join(os.path.dirname(HERE), "target/release/tally"))
    parser.add_argument("--spark", action="store_true", help="also run the Spark SQL in local mode")
    args = parser.parse_args()
    tally = os.path.abspath(args.tally)
    os.makedirs(args.out, exist_ok=True)
    results = {}
    for size in args.rows:
        results[str(size)] = one(size, os.path.abspath(args.out), tally, args.spark)
        print(json.dumps({str(size): results[str(size)]}, indent=2), flush=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    if not all(r["same_rows"] for r in results.values()):
        sys.exit("the emitted SQL disagrees with tally attribute")


if __name__ == "__main__":
    main()
