#!/usr/bin/env python3
"""Ingest and query benchmarks: tally against DuckDB (the peer), measured in the same run.

    cargo build --release && python3 bench/run.py --rows 10000000

Steps, each timed for both engines on the same input:
  1. ingest: the demo company's CUR (gzip CSV, legacy column names) -> Hive-partitioned Parquet.
     tally parses every cell (exact decimals, timestamps, tags map) and reconciles each file;
     DuckDB reads with type auto-detection (costs as DOUBLE) and writes partitioned Parquet.
  2. query: spend per month and service over each engine's own Parquet output.
Reports wall time, peak RSS (from /usr/bin/time -v) and the ratio tally / DuckDB.
Needs `pip install duckdb`. Never run from tests: timings are not assertions.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak RSS in MiB)."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return seconds, int(rss.group(1)) / 1024 if rss else float("nan")


DUCK_INGEST = """
import duckdb, sys
src, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(f'''
COPY (
  SELECT *, 'aws' AS provider, strftime("bill/BillingPeriodStartDate"::TIMESTAMP, '%Y-%m') AS billing_period
  FROM read_csv('{src}/**/*.csv.gz', header = true, union_by_name = true)
) TO '{out}' (FORMAT parquet, PARTITION_BY (provider, billing_period), COMPRESSION snappy)''')
"""

DUCK_QUERY = """
import duckdb, sys
print(duckdb.sql(f'''
SELECT billing_period, "lineItem/ProductCode" AS service, sum("lineItem/UnblendedCost") AS billed
FROM read_parquet('{sys.argv[1]}/**/*.parquet', hive_partitioning = true)
GROUP BY ALL ORDER BY billed DESC''').fetchall()[:3])
"""

TALLY_QUERY = """SELECT billing_period, "x_ServiceCode" AS service, sum("BilledCost") AS billed
FROM line_items GROUP BY 1, 2 ORDER BY billed DESC LIMIT 3"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    parser.add_argument("--tally", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "tally"))
    args = parser.parse_args()
    if not os.path.exists(args.tally):
        sys.exit(f"{args.tally} not found: run `cargo build --release` first (or pass --tally)")

    shutil.rmtree(args.out, ignore_errors=True)
    demo = os.path.join(args.out, "demo")
    gen_s, gen_rss = timed([args.tally, "-q", "demo", "--no-ingest", "--rows", str(args.rows), "--out", demo])
    cur = os.path.join(demo, "cur")
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(cur) for f in fs)

    tally_lake, duck_lake = os.path.join(args.out, "tally-lake"), os.path.join(args.out, "duckdb-lake")
    results = {"rows": args.rows, "cur_gzip_bytes": size, "cpus": os.cpu_count(),
               "generate": {"seconds": round(gen_s, 2), "peak_rss_mib": round(gen_rss)}}
    t_s, t_rss = timed([args.tally, "-q", "ingest", cur, "--lake", tally_lake])
    d_s, d_rss = timed([sys.executable, "-c", DUCK_INGEST, cur, duck_lake])
    results["ingest"] = {"tally_s": round(t_s, 2), "duckdb_s": round(d_s, 2), "ratio": round(t_s / d_s, 2),
                         "tally_peak_rss_mib": round(t_rss), "duckdb_peak_rss_mib": round(d_rss),
                         "tally_rows_per_s": round(args.rows / t_s)}
    t_s, t_rss = timed([args.tally, "sql", "--lake", tally_lake, "--format", "csv", TALLY_QUERY])
    d_s, d_rss = timed([sys.executable, "-c", DUCK_QUERY, duck_lake])
    results["query"] = {"tally_s": round(t_s, 2), "duckdb_s": round(d_s, 2), "ratio": round(t_s / d_s, 2),
                        "tally_peak_rss_mib": round(t_rss), "duckdb_peak_rss_mib": round(d_rss)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
