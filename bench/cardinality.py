#!/usr/bin/env python3
"""How attribution time grows with tag cardinality (issue 10's scaling table).

    python3 bench/cardinality.py --rows 1000000 --out /tmp/cardinality --tally target/release/tally

The demo company's CUR (gzip CSV) is generated once, then rewritten by DuckDB with one more
tag, `resourceTags/user:request-id`, taking K distinct values round-robin over the line items
(K = 0 means no such tag; `--levels` picks the Ks, `all` is one value per line item). Round-robin
is the worst case for a given K: one resource's hourly lines get different values, so even a
small K multiplies the distinct (resource, tag value) pairs. Each
variant is ingested into its own lake and attributed twice:

  * `unread`: the 12,305 generated rules of bench/attribution.py; no rule reads request-id;
  * `read`:   the same rules plus one that reads request-id (it never matches, so every line
              is decided as before, but the tag now takes part in every line's decision).

tally decides once per distinct line key (the fields rules read, and the tags they read), so
an unread tag should cost nothing, and a read one should cost in proportion to the distinct
keys it creates. Each run is timed under /usr/bin/time -v (wall, CPU, peak RSS); the decisions
of all runs of a K are compared (the same team per line item and the same total). Writes
<out>/results.json and prints a Markdown table. Never run from tests.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import attribution  # noqa: E402
import run  # noqa: E402

ADD_TAG = """
import duckdb, sys
src, out, k, prefix = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
con = duckdb.connect()
con.execute(f'''
COPY (
  SELECT *, 'req-{prefix}' || lpad(CAST((row_number() OVER () - 1) % {k} AS VARCHAR), 8, '0') AS "resourceTags/user:request-id"
  FROM read_csv('{src}', header = true, all_varchar = true)
) TO '{out}' (HEADER, COMPRESSION gzip)''')
"""

PROBE_RULE = """
# Added by bench/cardinality.py: reads request-id and never matches.
[[rule]]
id = "request-id-probe"
precedence = 5
tags = { request-id = "no-such-request" }
team = "payments-api"
"""

OWNERS = """SELECT md5(string_agg(team || ':' || CAST(share AS VARCHAR), ',' ORDER BY "x_SourceFile", "x_SourceRow", team, share)),
count(*), sum("BilledCost") FROM read_parquet('{lake}/attributed/**/*.parquet')"""


def with_tag(cur, out, k):
    """A copy of the CUR folder with the request-id tag at cardinality k (0: the CUR itself; None:
    a value per line item, unique across files)."""
    if k == 0:
        return cur
    files = sorted(os.path.join(folder, name) for folder, _, names in os.walk(cur) for name in names)
    for index, src in enumerate(files):
        dst = os.path.join(out, os.path.relpath(src, cur))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        prefix = f"{index}-" if k is None else ""
        subprocess.run([sys.executable, "-c", ADD_TAG, src, dst, str(k or 10**12), prefix], check=True)
    return out


def owners(lake):
    import duckdb
    return duckdb.sql(OWNERS.format(lake=lake)).fetchall()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--levels", nargs="+", default=["0", "1", "100", "10000", "all"],
                        help="distinct request-id values; `all`: one per line item")
    parser.add_argument("--out", default="/tmp/tally-cardinality", help="deleted and refilled")
    parser.add_argument("--tally", required=True, help="a release build of tally")
    args = parser.parse_args()

    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    demo = os.path.join(args.out, "demo")
    run.timed([args.tally, "-q", "demo", "--no-ingest", "--rows", str(args.rows), "--out", demo])
    cur = os.path.join(demo, "cur")

    results = {"rows_asked": args.rows, "cpus": os.cpu_count(),
               "loadavg_at_start": open("/proc/loadavg").read().split()[:3], "levels": []}
    mappings = None
    for level in args.levels:
        base = os.path.join(args.out, f"k-{level}")
        lake = os.path.join(base, "lake")
        k = None if level == "all" else int(level)
        tagged = with_tag(cur, os.path.join(base, "cur"), k)
        ingest = run.timed([args.tally, "-q", "ingest", tagged, "--lake", lake])
        if tagged != cur:
            shutil.rmtree(tagged)
        vocab = attribution.lake_vocabulary(lake)
        if mappings is None:
            # The same mappings for every K: generated from the first lake, plus a copy that reads request-id.
            mappings = {"unread": os.path.join(args.out, "mappings"), "read": os.path.join(args.out, "mappings-read")}
            results["mappings_sha256"] = attribution.generate_mappings(vocab, mappings["unread"])["sha256"]
            shutil.copytree(mappings["unread"], mappings["read"])
            with open(os.path.join(mappings["read"], "rules.toml"), "a") as f:
                f.write(PROBE_RULE)
        distinct = None
        if k != 0:
            import duckdb
            distinct = duckdb.sql(f"""SELECT count(DISTINCT "Tags"['request-id'])
                FROM read_parquet('{lake}/line_items/**/*.parquet')""").fetchall()[0][0]
        row = {"level": level, "line_items": vocab["line_items"], "distinct_request_ids": distinct,
               "ingest": {"s": round(ingest[0], 2), "cpu_s": round(ingest[2], 2), "peak_rss_mib": round(ingest[1])}}
        decided = set()
        for variant, folder in mappings.items():
            t = run.timed([args.tally, "-q", "attribute", "--lake", lake, "--mappings", folder],
                          log=os.path.join(base, f"attribute-{variant}.log"))
            row[variant] = {"s": round(t[0], 2), "cpu_s": round(t[2], 2), "peak_rss_mib": round(t[1]),
                            "us_per_line_cpu": round(t[2] / vocab["line_items"] * 1e6, 2)}
            decided.add(owners(lake))
        row["same_decisions"] = len(decided) == 1
        results["levels"].append(row)
        shutil.rmtree(lake)
        print(json.dumps(row), flush=True)
    results["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)

    print("\n| request-id values | line items | distinct in lake | attribute, unread: CPU | per line | attribute, read: CPU | per line | peak RSS (read) | same decisions |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results["levels"]:
        print(f"| {r['level']} | {r['line_items']:,} | {r['distinct_request_ids'] or 0:,} | {r['unread']['cpu_s']} s | "
              f"{r['unread']['us_per_line_cpu']} µs | {r['read']['cpu_s']} s | {r['read']['us_per_line_cpu']} µs | "
              f"{r['read']['peak_rss_mib']} MiB | {r['same_decisions']} |")
    if not all(r["same_decisions"] for r in results["levels"]):
        sys.exit("a request-id tag changed some decision")


if __name__ == "__main__":
    main()
