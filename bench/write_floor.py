#!/usr/bin/env python3
"""The floor under attribution: what it costs DuckDB only to read the input and only to write
the output of `tally attribute`, with no attribution at all.

    python3 bench/write_floor.py --lake /tmp/pipeline/10000000/tally-lake

The lake must hold `attributed` (run `tally attribute` first). Two timed DuckDB runs, each in a
fresh process under /usr/bin/time -v:
  1. read: every column attribution reads from `line_items`, aggregated so nothing is printed;
  2. write: the lake's `attributed` table copied to a new Parquet file (Snappy, like tally's),
     i.e. the same rows and columns tally writes, encoded again.
Their sum is a floor for any engine that produces the same output on this machine. Never run
from tests: timings are not assertions.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

READ = """
import duckdb, sys
lake = sys.argv[1]
print(duckdb.sql(f'''SELECT count(*), sum(length("ResourceId")), sum("BilledCost"), sum("EffectiveCost"),
  count(DISTINCT "SubAccountId"), max("ServiceName"), max("x_ServiceCode"), max("RegionId"), max("ChargeCategory"),
  max("BillingAccountId"), max("BillingCurrency"), max("x_ResourceGroup"), max("x_SourceFile"),
  max("x_SourceLineItemId"), CAST(max("ChargePeriodStart") AS VARCHAR), max("x_SourceRow"), sum(cardinality("Tags"))
  FROM read_parquet('{lake}/line_items/**/*.parquet')''').fetchall())
"""

WRITE = """
import duckdb, sys
lake, out = sys.argv[1], sys.argv[2]
duckdb.execute(f'''COPY (SELECT * FROM read_parquet('{lake}/attributed/**/*.parquet'))
  TO '{out}' (FORMAT parquet, COMPRESSION snappy)''')
"""


def measure(lake):
    """The two timed runs over `lake`, as a dict."""
    import duckdb
    rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{lake}/attributed/**/*.parquet')").fetchall()[0][0]
    out = tempfile.mkdtemp(prefix="write-floor-")
    try:
        r = run.timed([sys.executable, "-c", READ, lake])
        w = run.timed([sys.executable, "-c", WRITE, lake, os.path.join(out, "attributed.parquet")])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {
        "loadavg": open("/proc/loadavg").read().split()[:3], "attributed_rows": rows,
        "read_line_items": {"s": round(r[0], 2), "cpu_s": round(r[2], 2), "peak_rss_mib": round(r[1])},
        "write_attributed": {"s": round(w[0], 2), "cpu_s": round(w[2], 2), "peak_rss_mib": round(w[1])},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", required=True)
    args = parser.parse_args()
    print(json.dumps(measure(args.lake), indent=2))


if __name__ == "__main__":
    main()
