#!/usr/bin/env python3
"""Ingest and query benchmarks: tally against DuckDB (the peer), measured in the same run.

    cargo build --release && python3 bench/run.py --rows 10000000

Steps, each timed for both engines on the same input:
  1. ingest: the demo company's CUR (gzip CSV, legacy column names) -> Hive-partitioned Parquet.
     tally parses every cell (exact decimals, timestamps, tags map) and reconciles each file;
     DuckDB reads with type auto-detection (costs as DOUBLE) and writes partitioned Parquet.
  2. query: spend per month and service over each engine's own Parquet output.
Reports wall time, peak RSS (from /usr/bin/time -v) and the ratio tally / DuckDB, and checks
(not timed) that both lakes hold the same number of rows and the same total cost (to the cent:
DuckDB's DOUBLE sum) and that both queries put the same services on top.
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


def timed(cmd, env=None, log=None):
    """Runs cmd under /usr/bin/time -v; returns (wall seconds, peak RSS in MiB, CPU seconds: user + system).
    Its output goes to log if given."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if log:
        with open(log, "w") as f:
            f.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr))
    return seconds, int(rss.group(1)) / 1024 if rss else float("nan"), cpu


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
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "ingest"), help="deleted and refilled")
    parser.add_argument("--tally", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "tally"))
    args = parser.parse_args()
    if not os.path.exists(args.tally):
        sys.exit(f"{args.tally} not found: run `cargo build --release` first (or pass --tally)")

    shutil.rmtree(args.out, ignore_errors=True)
    demo = os.path.join(args.out, "demo")
    gen_s, gen_rss, _ = timed([args.tally, "-q", "demo", "--no-ingest", "--rows", str(args.rows), "--out", demo])
    cur = os.path.join(demo, "cur")
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(cur) for f in fs)

    tally_lake, duck_lake = os.path.join(args.out, "tally-lake"), os.path.join(args.out, "duckdb-lake")
    results = {"rows": args.rows, "loadavg_at_start": open("/proc/loadavg").read().split()[:3], "cur_gzip_bytes": size, "cpus": os.cpu_count(),
               "generate": {"seconds": round(gen_s, 2), "peak_rss_mib": round(gen_rss)}}
    t_s, t_rss, t_cpu = timed([args.tally, "-q", "ingest", cur, "--lake", tally_lake])
    d_s, d_rss, d_cpu = timed([sys.executable, "-c", DUCK_INGEST, cur, duck_lake])
    results["ingest"] = {"tally_s": round(t_s, 2), "duckdb_s": round(d_s, 2), "ratio": round(t_s / d_s, 2),
                         "tally_peak_rss_mib": round(t_rss), "duckdb_peak_rss_mib": round(d_rss),
                         "tally_cpu_s": round(t_cpu, 2), "duckdb_cpu_s": round(d_cpu, 2),
                         "tally_mib_gzip_per_s": round(size / 2**20 / t_s, 1)}
    t_s, t_rss, t_cpu = timed([args.tally, "sql", "--lake", tally_lake, "--format", "csv", TALLY_QUERY])
    d_s, d_rss, d_cpu = timed([sys.executable, "-c", DUCK_QUERY, duck_lake])
    results["query"] = {"tally_s": round(t_s, 2), "duckdb_s": round(d_s, 2), "ratio": round(t_s / d_s, 2),
                        "tally_peak_rss_mib": round(t_rss), "duckdb_peak_rss_mib": round(d_rss),
                        "tally_cpu_s": round(t_cpu, 2), "duckdb_cpu_s": round(d_cpu, 2)}
    results["check"] = check(tally_lake, duck_lake)
    results["ingest"]["tally_line_items_per_s"] = round(results["check"]["line_items"] / results["ingest"]["tally_s"])
    results["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
    print(json.dumps(results, indent=2))
    if not results["check"]["agree"]:
        sys.exit("the two lakes differ (see check)")


def check(tally_lake, duck_lake):
    """Same rows, same total cost, same top services per month, in both lakes (not timed)."""
    import duckdb
    con = duckdb.connect()
    t = con.execute(f"""SELECT count(*), sum("BilledCost") FROM
        read_parquet('{tally_lake}/line_items/**/*.parquet', hive_partitioning = true)""").fetchall()[0]
    d = con.execute(f"""SELECT count(*), sum("lineItem/UnblendedCost") FROM
        read_parquet('{duck_lake}/**/*.parquet', hive_partitioning = true)""").fetchall()[0]
    top = f"""SELECT billing_period, {{service}}, round(sum({{cost}}), 2) FROM
        read_parquet('{{lake}}/**/*.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY 3 DESC LIMIT 5"""
    t_top = con.execute(top.format(service='"x_ServiceCode"', cost='"BilledCost"', lake=tally_lake + "/line_items")).fetchall()
    d_top = con.execute(top.format(service='"lineItem/ProductCode"', cost='"lineItem/UnblendedCost"', lake=duck_lake)).fetchall()
    same_top = [r[:2] for r in t_top] == [r[:2] for r in d_top] and all(
        abs(float(a[2]) - float(b[2])) <= 0.01 for a, b in zip(t_top, d_top))
    return {"line_items": t[0], "duckdb_rows": d[0], "tally_billed": str(t[1]), "duckdb_billed": repr(d[1]),
            "top_services_agree": same_top,
            "agree": t[0] == d[0] and abs(float(t[1]) - d[1]) < 0.01 and same_top}


if __name__ == "__main__":
    main()
