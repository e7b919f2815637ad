#!/usr/bin/env python3
"""`tally export focus` against DuckDB's COPY of the same lake to Parquet (issue 21).

    python3 bench/export.py --rows 1000000 --out /tmp/export-bench --tally target/release/tally

Generates the demo company at --rows line items (one month) and ingests it, then times, each
in a fresh process under /usr/bin/time -v:
  1. tally: `tally export focus --lake L --out O` (FOCUS 1.2, every derivation, Tags as JSON);
  2. DuckDB: `COPY (SELECT * FROM the lake's line_items) TO O (FORMAT parquet, PARTITION_BY
     (billing_period), COMPRESSION snappy)`: the same rows copied as they are, no derivation,
     Tags left a map; the floor for writing the lake out again.
The ratio tally / DuckDB is what issue 21 asks to keep at or under 1. Then, with the lake
attributed by the demo's mappings:
  3. tally: `tally export focus --attributed` (one row per share, FOCUS's allocation columns,
     every cost and quantity split by the shares' ratios);
  4. DuckDB: the same COPY of line_items joined to `attributed` on the source file and row
     (one row per share, with its team and amounts; no allocation columns, no splitting).
Never run from tests: timings are not assertions.
"""
import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

DUCK_COPY = """
import duckdb, sys
lake, out = sys.argv[1], sys.argv[2]
duckdb.sql(f'''COPY (SELECT * FROM read_parquet('{lake}/line_items/**/*.parquet', hive_partitioning = true))
  TO '{out}' (FORMAT parquet, PARTITION_BY (billing_period), COMPRESSION snappy)''')
"""

DUCK_JOIN = """
import duckdb, sys
lake, out = sys.argv[1], sys.argv[2]
duckdb.sql(f'''COPY (SELECT l.* EXCLUDE ("BilledCost", "EffectiveCost"), a.team, a.rule_id, a.pool, a.share,
                     a."BilledCost", a."EffectiveCost"
  FROM read_parquet('{lake}/line_items/**/*.parquet', hive_partitioning = true) l
  JOIN read_parquet('{lake}/attributed/**/*.parquet', hive_partitioning = true) a
    ON a."x_SourceFile" = l."x_SourceFile" AND a."x_SourceRow" = l."x_SourceRow")
  TO '{out}' (FORMAT parquet, PARTITION_BY (billing_period), COMPRESSION snappy)''')
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", default="/tmp/export-bench")
    parser.add_argument("--tally", default="target/release/tally")
    args = parser.parse_args()
    out = os.path.join(args.out, str(args.rows))
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    demo = os.path.join(out, "demo")
    run.timed([args.tally, "-q", "demo", "--rows", str(args.rows), "--months", "1", "--out", demo])
    lake = os.path.join(demo, "lake")
    t = run.timed([args.tally, "-q", "export", "focus", "--lake", lake, "--out", os.path.join(out, "tally")],
                  log=os.path.join(out, "tally.log"))
    d = run.timed([sys.executable, "-c", DUCK_COPY, lake, os.path.join(out, "duckdb")],
                  log=os.path.join(out, "duckdb.log"))
    ta = run.timed([args.tally, "-q", "export", "focus", "--lake", lake, "--attributed",
                    "--out", os.path.join(out, "tally-attributed")], log=os.path.join(out, "tally-attributed.log"))
    da = run.timed([sys.executable, "-c", DUCK_JOIN, lake, os.path.join(out, "duckdb-attributed")],
                   log=os.path.join(out, "duckdb-attributed.log"))
    result = {
        "rows": args.rows,
        "tally_s": round(t[0], 2), "tally_cpu_s": round(t[2], 2), "tally_peak_rss_mib": round(t[1]),
        "duckdb_s": round(d[0], 2), "duckdb_cpu_s": round(d[2], 2), "duckdb_peak_rss_mib": round(d[1]),
        "ratio": round(t[0] / d[0], 2),
        "attributed_tally_s": round(ta[0], 2), "attributed_tally_peak_rss_mib": round(ta[1]),
        "attributed_duckdb_s": round(da[0], 2), "attributed_duckdb_peak_rss_mib": round(da[1]),
        "attributed_ratio": round(ta[0] / da[0], 2),
        "loadavg_at_end": os.getloadavg(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
