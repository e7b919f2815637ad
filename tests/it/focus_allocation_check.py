"""Checks a `tally export focus --attributed` export against FOCUS 1.3's split cost allocation
requirements, independently of tally: DuckDB (PyPI) reads the Parquet files, Python's
`decimal` and `json` (numbers parsed as Decimal, never float) do the arithmetic.

    python3 focus_allocation_check.py ATTRIBUTED_DIR PLAIN_DIR LAKE_DIR 1.2|1.3

PLAIN_DIR is the same lake exported without --attributed: each of its rows is an origin
charge. Checked, each against the spec's text (specification, FOCUS 1.3):
- Data Generator-Calculated Split Cost Allocation Handling: an allocated charge's dimensions
  and non-summable metrics (unit prices) match its origin's; its summable metrics (costs and
  quantities) add back to the origin's exactly.
- AllocatedMethodDetails: a JSON object whose top-level keys are "Elements" or begin "x_";
  Elements is an array of objects, each with an AllocatedRatio (a decimal), other keys FOCUS's
  (UsageUnit, UsageQuantity) or "x_"; the ratios of one origin charge add up to 1.
- AllocatedMethodId: not null on every allocated charge.
- AllocatedResourceId: null exactly on the unallocated portion; AllocatedResourceName null
  exactly when AllocatedResourceId is.
- AllocatedTags: key-value JSON, null when AllocatedResourceId is; no key of the row's Tags.
For 1.3, the other columns 1.3 added (Cost and Usage columns, their own pages):
- ServiceProviderName: present, a string, never null where the row names its provider
  (a source naming none, not conformant FOCUS itself, leaves ProviderName null too).
- HostProviderName: present, a string, null only for a Tax or Adjustment charge (or where
  no provider is named).
- ContractApplied: present, a string; when not null, a JSON object whose "Elements" is an
  array of objects (ContractAppliedObject).
And tally's own promise: per period and team, BilledCost and EffectiveCost are the lake's
`attributed` table's sums.

Prints one line, `ok origins=N rows=M teams=T`, or exits 1 naming what failed.
"""

import json
import sys
from decimal import Decimal

import duckdb

attributed, plain, lake, version = sys.argv[1:5]
prefix = "" if version == "1.3" else "x_"
ALLOCATION = ["AllocatedMethodId", "AllocatedMethodDetails", "AllocatedResourceId", "AllocatedResourceName", "AllocatedTags"]
KEY = ["x_SourceFile", "x_SourceRow", "x_ExportRow"]

con = duckdb.connect()
con.execute(f"CREATE VIEW a AS SELECT * FROM read_parquet('{attributed}/billing_period=*/*.parquet', hive_partitioning = true)")
con.execute(f"CREATE VIEW p AS SELECT * FROM read_parquet('{plain}/billing_period=*/*.parquet', hive_partitioning = true)")
failures = []


def fail(what):
    failures.append(what)


columns = [(name, kind) for name, kind, *_ in con.execute("DESCRIBE SELECT * FROM p").fetchall()]
allocated_columns = {name for name, *_ in con.execute("DESCRIBE SELECT * FROM a").fetchall()}
for name in ALLOCATION:
    if prefix + name not in allocated_columns:
        fail(f"no column {prefix + name}")
summable = [n for n, k in columns if k.startswith("DECIMAL") and (n.endswith("Cost") or n.endswith("Quantity"))]
# Dimensions and non-summable metrics: every other column of the origin, except the
# allocation columns the allocated charge fills.
same = [n for n, _ in columns if n not in summable and n not in KEY and n not in ALLOCATION]

# Summable metrics add back, exactly (DuckDB's DECIMAL sums are exact).
sums = ", ".join(f'sum("{n}") AS "{n}"' for n in summable)
distinct = " OR ".join(f's."{n}" IS DISTINCT FROM p."{n}"' for n in summable)
joined = " AND ".join(f's."{k}" IS NOT DISTINCT FROM p."{k}"' for k in KEY)
origins, unmatched = con.execute(
    f"""WITH s AS (SELECT {', '.join(KEY)}, {sums} FROM a GROUP BY ALL)
        SELECT (SELECT count(*) FROM p),
               (SELECT count(*) FROM s FULL JOIN p ON {joined} WHERE s.x_SourceFile IS NULL OR p.x_SourceFile IS NULL OR {distinct})"""
).fetchone()
if unmatched:
    bad = con.execute(
        f"""WITH s AS (SELECT {', '.join(KEY)}, {sums} FROM a GROUP BY ALL)
            SELECT * FROM s FULL JOIN p ON {joined} WHERE s.x_SourceFile IS NULL OR p.x_SourceFile IS NULL OR {distinct} LIMIT 3"""
    ).fetchall()
    fail(f"{unmatched} origin charge(s) whose allocated charges do not add back: {bad}")

# Dimensions and unit prices match the origin's (one query: the first column that differs).
differs = " OR ".join(f'a."{n}" IS DISTINCT FROM p."{n}"' for n in same)
on = " AND ".join(f'a."{k}" IS NOT DISTINCT FROM p."{k}"' for k in KEY)
changed = con.execute(f"SELECT count(*) FROM a JOIN p ON {on} WHERE {differs}").fetchone()[0]
if changed:
    for n in same:
        count = con.execute(f'SELECT count(*) FROM a JOIN p ON {on} WHERE a."{n}" IS DISTINCT FROM p."{n}"').fetchone()[0]
        if count:
            fail(f"{count} allocated charge(s) change {n}")

# The allocation columns, row by row.
ratios = {}
rows = con.execute(
    f'SELECT {", ".join(KEY)}, {", ".join(f"{chr(34)}{prefix}{n}{chr(34)}" for n in ALLOCATION)}, "Tags" FROM a'
).fetchall()
focus_keys = {"AllocatedRatio", "UsageUnit", "UsageQuantity"}
for row in rows:
    key, (method, details, resource, name, tags, row_tags) = tuple(row[:3]), row[3:]
    if method is None:
        fail(f"{key}: AllocatedMethodId is null")
    if (resource is None) != (name is None):
        fail(f"{key}: AllocatedResourceName null ({name}) but not AllocatedResourceId ({resource}), or the reverse")
    if (resource is None) != (tags is None):
        fail(f"{key}: AllocatedTags {tags!r} with AllocatedResourceId {resource!r}")
    if (resource is None) != (method == "unallocated"):
        fail(f"{key}: AllocatedResourceId {resource!r} for AllocatedMethodId {method!r}")
    try:
        parsed = json.loads(details, parse_float=Decimal, parse_int=Decimal)
    except (TypeError, ValueError) as e:
        fail(f"{key}: AllocatedMethodDetails is not JSON ({e}): {details!r}")
        continue
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Elements"), list) or not parsed["Elements"]:
        fail(f"{key}: AllocatedMethodDetails has no Elements array: {details}")
        continue
    for top in parsed:
        if top != "Elements" and not top.startswith("x_"):
            fail(f"{key}: top-level key {top!r} is neither Elements nor x_")
    ratio = Decimal(0)
    for element in parsed["Elements"]:
        if not isinstance(element, dict) or not isinstance(element.get("AllocatedRatio"), Decimal):
            fail(f"{key}: an element without a decimal AllocatedRatio: {details}")
            continue
        for k in element:
            if k not in focus_keys and not k.startswith("x_"):
                fail(f"{key}: element key {k!r} is neither FOCUS's nor x_")
        ratio += element["AllocatedRatio"]
    ratios[key] = ratios.get(key, Decimal(0)) + ratio
    if tags is not None:
        allocated = json.loads(tags)
        if not isinstance(allocated, dict) or not all(isinstance(v, (str, bool)) for v in allocated.values()):
            fail(f"{key}: AllocatedTags is not key-value JSON: {tags}")
        own = json.loads(row_tags) if row_tags else {}
        if set(allocated) & set(own or {}):
            fail(f"{key}: AllocatedTags repeats the row's Tags {set(allocated) & set(own)}")
off = [(k, r) for k, r in ratios.items() if r != 1]
if off:
    fail(f"{len(off)} origin charge(s) whose AllocatedRatio values do not add up to 1: {off[:3]}")

# Per period and team, the lake's attributed amounts.
teams = con.execute(
    f"""WITH e AS (SELECT billing_period, coalesce("{prefix}AllocatedResourceId", '(unallocated)') AS team,
                          sum("BilledCost") AS billed, sum("EffectiveCost") AS effective FROM a GROUP BY ALL),
             l AS (SELECT billing_period, CASE WHEN method = 'unallocated' THEN '(unallocated)' ELSE team END AS team,
                          sum("BilledCost") AS billed, sum("EffectiveCost") AS effective
                   FROM read_parquet('{lake}/attributed/billing_period=*/*.parquet', hive_partitioning = true)
                   WHERE billing_period IN (SELECT DISTINCT billing_period FROM a) GROUP BY ALL)
        SELECT count(*), count(*) FILTER (WHERE e.billed IS DISTINCT FROM l.billed OR e.effective IS DISTINCT FROM l.effective)
        FROM e FULL JOIN l USING (billing_period, team)"""
).fetchone()
if teams[1]:
    fail(f"{teams[1]} (period, team) total(s) differ from the lake's attributed table")

if version == "1.3":
    kinds = dict(columns)
    for name in ["ServiceProviderName", "HostProviderName", "ContractApplied"] + ALLOCATION:
        if kinds.get(name) != "VARCHAR":
            fail(f"1.3 column {name} missing or not a string ({kinds.get(name)})")
    nulls = con.execute(
        """SELECT count(*) FILTER (WHERE "ServiceProviderName" IS NULL AND "ProviderName" IS NOT NULL),
                  count(*) FILTER (WHERE "HostProviderName" IS NULL AND "ProviderName" IS NOT NULL
                                   AND "ChargeCategory" NOT IN ('Tax', 'Adjustment'))
           FROM a"""
    ).fetchone()
    if nulls != (0, 0):
        fail(f"null ServiceProviderName on {nulls[0]} row(s), HostProviderName on {nulls[1]}")
    for (applied,) in con.execute('SELECT DISTINCT "ContractApplied" FROM a WHERE "ContractApplied" IS NOT NULL').fetchall():
        try:
            parsed = json.loads(applied, parse_float=Decimal)
        except ValueError:
            parsed = None
        elements = parsed.get("Elements") if isinstance(parsed, dict) else None
        if not isinstance(elements, list) or not all(isinstance(e, dict) for e in elements):
            fail(f"ContractApplied is not a ContractAppliedObject: {applied}")

if failures:
    print("\n".join(failures[:20]), file=sys.stderr)
    sys.exit(1)
print(f"ok origins={origins} rows={len(rows)} teams={teams[0]}")
