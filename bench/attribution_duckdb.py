#!/usr/bin/env python3
"""The peer of `tally attribute` in bench/attribution.py: the same attribution written as
DuckDB SQL over the same lake and the same mapping files.

    python3 bench/attribution_duckdb.py LAKE MAPPINGS OUT

Reads MAPPINGS/{org,rules,pools}.toml, compiles them into small tables (rule rank = order
by precedence, then id, as tally does), then per line item:

  * candidate rules by index class, each checked against the rule's other conditions:
    account rules (join on SubAccountId), tag-value rules (join on canonical tag key and
    lowercased value; multi-key rules need every key), regex rules (a cross join of the
    *distinct* ResourceIds with the regexes, then a join back), service and
    charge-category rules (joins), team-from-tag rules (join of the tag value to team ids
    and aliases); the line's rule is min(rank) over all of them;
  * pools: each team's direct EffectiveCost per period gives proportional weights; pools
    feeding pools are flattened by a recursive CTE into (period, pool, team, fraction);
  * node lines of a shared cluster (AWS split cost allocation data: the line's ResourceId and
    ChargePeriodStart are pod rows' parent): split over the pods by their split and unused
    costs (idle policy `proportional`, tally's default), each part owned as its pod is;
  * writes one row per line item or share to OUT/billing_period=*/ (Parquet), like
    tally's `attributed` table (fewer columns: no org paths, no unallocated reasons).

Simplifications (the generated mappings avoid what they would get wrong): shares are
`amount * fraction` in DOUBLE cast back to DECIMAL(38,20), not tally's exact largest
remainder at 20 decimals, so team totals agree to the cent, not to the last digit; a
proportional pool's scope is evaluated on the org without its dated moves; a pool whose
sub-pool has nothing to split by is not detected; a clusters.toml is refused (only the default
idle policy). Supported rule conditions: accounts, services, charge_categories, tags,
resource_regex, from/until, team_from_tag.
"""
import json
import os
import sys
import time
import tomllib

import duckdb

UNSUPPORTED = ("billing_accounts", "regions", "resource_prefix", "resource_glob", "everything")


def q(text):
    return "'" + str(text).replace("'", "''") + "'"


def sql_list(values):
    return "[" + ", ".join(q(v) for v in values) + "]" if values else "NULL"


def create_table(con, out, name, columns, rows):
    """A table from Python rows, through a JSON file (executemany inserts row by row: slow)."""
    path = os.path.join(out, "_tmp", f"{name}.jsonl")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    names = [c.split()[0] for c in columns]
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(dict(zip(names, row)), default=str) + "\n")
    spec = "{" + ", ".join(f"{q(c.split()[0])}: {q(c.split(maxsplit=1)[1])}" for c in columns) + "}"
    source = f"read_json({q(path)}, format = 'newline_delimited', columns = {spec})" if rows else \
        "(SELECT " + ", ".join(f"NULL::{c.split(maxsplit=1)[1]} AS {c.split()[0]}" for c in columns) + " WHERE false)"
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {source}")


def load(mappings):
    with open(os.path.join(mappings, "org.toml"), "rb") as f:
        org = tomllib.load(f)
    with open(os.path.join(mappings, "rules.toml"), "rb") as f:
        rules = tomllib.load(f)
    pools_path = os.path.join(mappings, "pools.toml")
    pools = {}
    if os.path.exists(pools_path):
        with open(pools_path, "rb") as f:
            pools = tomllib.load(f)
    if os.path.exists(os.path.join(mappings, "clusters.toml")):
        sys.exit("clusters.toml is not supported by this SQL peer (only the default idle policy, proportional)")
    return org, rules, pools


class Timed:
    """A connection whose execute() reports each statement's seconds on stderr when BENCH_VERBOSE is set."""

    def __init__(self, con):
        self.con = con

    def execute(self, sql, *args):
        start = time.perf_counter()
        result = self.con.execute(sql, *args)
        if os.environ.get("BENCH_VERBOSE"):
            print(f"{time.perf_counter() - start:8.2f}s  {' '.join(sql.split())[:90]}", file=sys.stderr)
        return result


def main():
    lake, mappings, out = sys.argv[1:4]
    org, rules_file, pools_file = load(mappings)
    con = Timed(duckdb.connect())
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET temp_directory = {q(os.path.join(out, '_tmp'))}")

    # --- the mappings, compiled to tables ---------------------------------------------
    teams = org.get("teams", {})
    nodes = org.get("nodes", {})
    parents = [(k, v.get("parent")) for k, v in nodes.items()] + [(k, v.get("parent")) for k, v in teams.items()]
    create_table(con, out, "org_parent", ["id VARCHAR", "parent VARCHAR"], parents)
    create_table(con, out, "team", ["team VARCHAR"], [(t,) for t in teams])
    alias = {}
    for t, spec in teams.items():
        for a in [t, *spec.get("aliases", [])]:
            alias[a.lower()] = t
    create_table(con, out, "team_alias", ["value VARCHAR", "team VARCHAR"], list(alias.items()))

    tag_alias = {}  # key -> (canonical, position)
    for canonical, keys in rules_file.get("tag_aliases", {}).items():
        for position, key in enumerate([canonical, *keys]):
            tag_alias[key] = (canonical, position)

    def canonical(key):
        return tag_alias.get(key, (key, 0))[0]

    specs = sorted(rules_file.get("rule", []), key=lambda r: (r["precedence"], r["id"]))
    compiled = []
    for rank, r in enumerate(specs):
        for field in UNSUPPORTED:
            if field in r:
                sys.exit(f"rule {r['id']}: `{field}` is not supported by this SQL peer")
        tags = {canonical(k): [v.lower() for v in ([v] if isinstance(v, str) else v)] for k, v in r.get("tags", {}).items()}
        if "team" in r:
            kind, target = "team", r["team"]
        elif "pool" in r:
            kind, target = "pool", r["pool"]
        else:
            kind, target = "from_tag", canonical(r["team_from_tag"])
        rule = dict(rank=rank, id=r["id"], kind=kind, target=target, tags=tags, regex=r.get("resource_regex"),
                    accounts=r.get("accounts") or None, services=r.get("services") or None,
                    charge_categories=r.get("charge_categories") or None)
        others = [c for c in ("accounts", "services", "charge_categories") if rule[c]] + (["tags"] if tags else [])
        if rule["regex"] and others:
            sys.exit(f"rule {r['id']}: resource_regex with other conditions is not supported by this SQL peer")
        if tags and rule["accounts"]:
            sys.exit(f"rule {r['id']}: tags combined with accounts are not supported by this SQL peer")
        if kind == "from_tag" and (others or rule["regex"]):
            sys.exit(f"rule {r['id']}: team_from_tag with other conditions is not supported by this SQL peer")
        rule["from"], rule["until"] = r.get("from"), r.get("until")
        compiled.append(rule)

    # Tag-value rules are found by one of their keys (and checked on the others): the key
    # whose values are most spread out over all rules, e.g. `service` rather than `env`.
    keys = sorted({k for rule in compiled for k in rule["tags"]} | {r["target"] for r in compiled if r["kind"] == "from_tag"})
    spread = {k: len({v for rule in compiled for v in rule["tags"].get(k, [])}) for k in keys}
    acct_rows, tag_rows, svc_rows, cc_rows, regex_rows, from_tag, rule_rows = [], [], [], [], [], [], []
    for rule in compiled:
        rank = rule["rank"]
        if rule["tags"]:
            drive = max(rule["tags"], key=lambda k: (spread[k], k))
            tag_rows += [(drive, v, rank) for v in rule["tags"][drive]]
        elif rule["accounts"]:
            acct_rows += [(a, rank) for a in rule["accounts"]]
        elif rule["services"]:
            svc_rows += [(x, rank) for x in rule["services"]]
        elif rule["kind"] == "from_tag":
            from_tag.append((rank, rule["target"]))
        elif rule["charge_categories"]:
            cc_rows += [(c, rank) for c in rule["charge_categories"]]
        elif rule["regex"]:
            regex_rows.append((rank, rule["regex"]))
        else:
            sys.exit(f"rule {rule['id']}: no supported index class")
        rule_rows.append((rank, rule["id"], rule["kind"], rule["target"], rule["from"], rule["until"], rule["accounts"],
                          rule["services"], rule["charge_categories"], *(rule["tags"].get(k) for k in keys)))
    create_table(con, out, "rule", ["rank INTEGER", "id VARCHAR", "kind VARCHAR", "target VARCHAR", "from DATE",
                                    "until DATE", "accounts VARCHAR[]", "services VARCHAR[]",
                                    "charge_categories VARCHAR[]", *(f"tag_{i} VARCHAR[]" for i in range(len(keys)))],
                 rule_rows)
    for name, cols, rows in [
        ("rule_account", ["account VARCHAR", "rank INTEGER"], acct_rows),
        ("rule_tag", ["key VARCHAR", "value VARCHAR", "rank INTEGER"], tag_rows),
        ("rule_service", ["service VARCHAR", "rank INTEGER"], svc_rows),
        ("rule_cc", ["category VARCHAR", "rank INTEGER"], cc_rows),
    ]:
        create_table(con, out, name, cols, rows)

    # Pools: fixed edges (even, weights) and proportional pools' candidate teams.
    fixed_edges, prop_pools = [], []
    for p in pools_file.get("pool", []):
        if p["split"] == "weights":
            fixed_edges += [(p["id"], r, w) for r, w in p["weights"].items() if w > 0]
        elif p["split"] == "even":
            fixed_edges += [(p["id"], r, 1) for r in sorted(set(p["to"]))]
        elif p["split"] == "proportional":
            prop_pools.append((p["id"], [t for t in p.get("to", []) if not t.startswith("pool:")] or None, p.get("scope")))
        else:
            sys.exit(f"pool {p['id']}: split {p['split']} is not supported by this SQL peer")
    create_table(con, out, "pool_fixed", ["pool VARCHAR", "recipient VARCHAR", "weight DOUBLE"], fixed_edges)
    create_table(con, out, "pool_prop", ["pool VARCHAR", "teams VARCHAR[]", "scope VARCHAR"], prop_pools)

    # --- line items ------------------------------------------------------------------
    # Canonical tag values for every tag key a rule looks at: the first non-empty alias in
    # tally's order, trimmed and lowercased.
    spellings = {k: sorted([a for a, (c, _) in tag_alias.items() if c == k], key=lambda a: tag_alias[a][1]) or [k] for k in keys}
    def tag_column(key):
        values = ", ".join(f"nullif(lower(trim(\"Tags\"[{q(a)}])), '')" for a in spellings[key])
        return f'coalesce({values}) AS "{key}"'

    tag_cols = "".join(",\n       " + tag_column(k) for k in keys)
    con.execute(f"""
CREATE TEMP TABLE li AS
SELECT row_number() OVER () AS line_id, billing_period, coalesce("ChargePeriodStart"::DATE, DATE '1970-01-01') AS day,
       "SubAccountId", "ServiceName", "x_ServiceCode", "ChargeCategory", "ResourceId",
       "BilledCost", "EffectiveCost", "x_SourceFile", "x_SourceRow", "ChargePeriodStart",
       nullif("x_SplitParentResourceId", '') AS parent, "x_SplitCost", "x_SplitUnusedCost",
       "x_Namespace", "x_Workload"{tag_cols}
FROM read_parquet({q(os.path.join(lake, 'line_items', '**', '*.parquet'))}, hive_partitioning = true,
                  union_by_name = true)""")
    date_ok = '(r."from" IS NULL OR l.day >= r."from") AND (r."until" IS NULL OR l.day < r."until")'
    other_ok = f"""{date_ok}
        AND (r.accounts IS NULL OR list_contains(r.accounts, l."SubAccountId"))
        AND (r.services IS NULL OR list_contains(r.services, l."ServiceName") OR list_contains(r.services, l."x_ServiceCode"))
        AND (r.charge_categories IS NULL OR list_contains(r.charge_categories, l."ChargeCategory"))"""
    other_ok += "".join(f'\n        AND (r.tag_{i} IS NULL OR list_contains(r.tag_{i}, l."{k}"))' for i, k in enumerate(keys))
    tag_unpivot = " UNION ALL ".join(
        f'SELECT line_id, {q(k)} AS key, "{k}" AS value FROM li WHERE "{k}" IS NOT NULL' for k in sorted({k for k, _, _ in tag_rows})
    ) or "SELECT NULL::BIGINT AS line_id, NULL AS key, NULL AS value WHERE false"
    from_tag_sql = " UNION ALL ".join(
        f'SELECT l.line_id, {rank} AS rank, a.team FROM li l JOIN team_alias a ON a.value = l."{key}"'
        for rank, key in from_tag
    ) or "SELECT NULL::BIGINT AS line_id, NULL::INTEGER AS rank, NULL AS team WHERE false"
    con.execute(f"CREATE TEMP TABLE from_tag AS {from_tag_sql}")
    regex_hits = " UNION ALL ".join(
        f'SELECT "ResourceId", {rank} AS rank FROM rid WHERE regexp_matches("ResourceId", {q(regex)})'
        for rank, regex in regex_rows
    ) or 'SELECT NULL AS "ResourceId", NULL::INTEGER AS rank WHERE false'
    classes = {
        "account": f"""SELECT l.line_id, r.rank FROM li l JOIN rule_account ra ON ra.account = l."SubAccountId"
                       JOIN rule r ON r.rank = ra.rank WHERE {other_ok}""",
        "tag": f"""SELECT l.line_id, r.rank FROM ({tag_unpivot}) t JOIN rule_tag rt ON rt.key = t.key AND rt.value = t.value
                   JOIN rule r ON r.rank = rt.rank JOIN li l ON l.line_id = t.line_id WHERE {other_ok}""",
        "service": f"""SELECT l.line_id, r.rank FROM li l JOIN rule_service rs ON rs.service IN (l."ServiceName", l."x_ServiceCode")
                       JOIN rule r ON r.rank = rs.rank WHERE {other_ok}""",
        "charge_category": f"""SELECT l.line_id, r.rank FROM li l JOIN rule_cc rc ON rc.category = l."ChargeCategory"
                               JOIN rule r ON r.rank = rc.rank WHERE {other_ok}""",
        # Each regex runs once per distinct ResourceId, not once per line item, and is a
        # literal in the SQL (a pattern from a column would be compiled for every row).
        "regex": f"""WITH hit AS ({regex_hits})
                     SELECT l.line_id, r.rank FROM li l JOIN hit h ON h."ResourceId" = l."ResourceId"
                     JOIN rule r ON r.rank = h.rank WHERE {date_ok}""",
        "team_from_tag": f"""SELECT l.line_id, r.rank FROM from_tag f JOIN rule r ON r.rank = f.rank
                             JOIN li l ON l.line_id = f.line_id WHERE {date_ok}""",
    }
    con.execute('CREATE TEMP TABLE rid AS SELECT DISTINCT "ResourceId" FROM li WHERE "ResourceId" IS NOT NULL')
    for name, sql in classes.items():
        if os.environ.get("BENCH_EXPLAIN") == name:
            print(con.execute(f"EXPLAIN ANALYZE {sql}").fetchall()[0][1], file=sys.stderr)
        con.execute(f"CREATE TEMP TABLE candidate_{name} AS SELECT line_id, min(rank) AS rank FROM ({sql}) GROUP BY line_id")
    union = " UNION ALL ".join(f"SELECT * FROM candidate_{name}" for name in classes)
    con.execute(f"CREATE TEMP TABLE best AS SELECT line_id, min(rank) AS rank FROM ({union}) GROUP BY line_id")

    # Each line's own decision: a team (direct), a pool, or nothing.
    con.execute("""
CREATE TEMP TABLE own AS
SELECT l.line_id, l.billing_period, r.id AS rule_id, r.kind,
       CASE r.kind WHEN 'team' THEN r.target WHEN 'from_tag' THEN f.team END AS team,
       CASE WHEN r.kind = 'pool' THEN r.target END AS pool, l."EffectiveCost"
FROM li l LEFT JOIN best b ON b.line_id = l.line_id LEFT JOIN rule r ON r.rank = b.rank
LEFT JOIN from_tag f ON f.line_id = l.line_id AND f.rank = b.rank""")

    # Node lines split by their pods: a pod (its ResourceId, namespace and workload, on one
    # node and hour) weighs its split plus unused cost (each row's at least 0), and its part of
    # the node is owned as its first row is decided.
    con.execute("""
CREATE TEMP TABLE node_part AS
WITH member AS (
  SELECT parent, "ChargePeriodStart" AS start, min(line_id) AS decider,
         sum(greatest(coalesce("x_SplitCost", 0), 0) + greatest(coalesce("x_SplitUnusedCost", 0), 0)) AS weight
  FROM li WHERE parent IS NOT NULL GROUP BY parent, "ChargePeriodStart", "ResourceId", "x_Namespace", "x_Workload"
),
total AS (SELECT parent, start, sum(weight) AS total FROM member GROUP BY ALL HAVING sum(weight) > 0)
SELECT l.line_id, m.decider, m.weight::DOUBLE / t.total::DOUBLE AS fraction
FROM li l JOIN total t ON t.parent = l."ResourceId" AND t.start = l."ChargePeriodStart"
JOIN member m ON m.parent = t.parent AND m.start = t.start WHERE m.weight > 0""")

    # Each line's parts (one, or a node's pods) and who decides each.
    con.execute("""
CREATE TEMP TABLE decided AS
WITH part AS (
  SELECT line_id, line_id AS decider, 1::DOUBLE AS fraction FROM li
  WHERE line_id NOT IN (SELECT line_id FROM node_part)
  UNION ALL SELECT * FROM node_part
)
SELECT l.line_id, l.billing_period, l.day, l."x_SourceFile", l."x_SourceRow", p.fraction,
       CASE WHEN p.fraction = 1 THEN l."BilledCost" ELSE (l."BilledCost"::DOUBLE * p.fraction)::DECIMAL(38, 20) END AS "BilledCost",
       CASE WHEN p.fraction = 1 THEN l."EffectiveCost" ELSE (l."EffectiveCost"::DOUBLE * p.fraction)::DECIMAL(38, 20) END AS "EffectiveCost",
       o.rule_id, o.kind, o.team, o.pool
FROM part p JOIN li l ON l.line_id = p.line_id JOIN own o ON o.line_id = p.decider""")

    # Pool fractions per period: proportional by direct spend (scoped), fixed by weights;
    # pools feeding pools flattened (fractions multiply along the chain).
    con.execute("""
CREATE TEMP TABLE pool_fraction AS
WITH RECURSIVE
direct AS (
  -- Each line's own decision, but for node lines their pods split (no team's direct spend).
  SELECT billing_period, team, sum("EffectiveCost") AS spend FROM own
  WHERE team IS NOT NULL AND line_id NOT IN (SELECT line_id FROM node_part) GROUP BY ALL
),
ancestry AS (
  SELECT id AS team, id AS node FROM org_parent WHERE id IN (SELECT team FROM team)
  UNION
  SELECT a.team, p.parent FROM ancestry a JOIN org_parent p ON p.id = a.node WHERE p.parent IS NOT NULL
),
periods AS (SELECT DISTINCT billing_period FROM li),
prop AS (
  SELECT d.billing_period, p.pool, d.team AS recipient, d.spend::DOUBLE AS weight
  FROM pool_prop p JOIN direct d ON (p.teams IS NULL OR list_contains(p.teams, d.team)) AND d.spend > 0
  WHERE p.scope IS NULL OR EXISTS (SELECT 1 FROM ancestry a WHERE a.team = d.team AND a.node = p.scope)
),
edge AS (
  SELECT billing_period, pool, recipient, weight / sum(weight) OVER (PARTITION BY billing_period, pool) AS fraction
  FROM (SELECT * FROM prop UNION ALL SELECT periods.billing_period, f.* FROM periods, pool_fixed f)
),
flat AS (
  SELECT billing_period, pool, pool AS via, recipient, fraction FROM edge
  UNION ALL
  SELECT f.billing_period, f.pool, e.pool, e.recipient, f.fraction * e.fraction
  FROM flat f JOIN edge e ON e.billing_period = f.billing_period AND 'pool:' || e.pool = f.recipient
)
SELECT billing_period, pool, recipient AS team, sum(fraction) AS fraction
FROM flat WHERE recipient NOT LIKE 'pool:%' GROUP BY ALL""")

    con.execute(f"""
COPY (
  SELECT billing_period, "x_SourceFile", "x_SourceRow", team, rule_id, 'direct' AS method, NULL AS pool,
         fraction::DECIMAL(38, 20) AS share, "BilledCost", "EffectiveCost"
  FROM decided WHERE team IS NOT NULL
  UNION ALL
  SELECT d.billing_period, d."x_SourceFile", d."x_SourceRow", pf.team, d.rule_id, 'shared', d.pool,
         (d.fraction * pf.fraction)::DECIMAL(38, 20), ("BilledCost"::DOUBLE * pf.fraction)::DECIMAL(38, 20),
         ("EffectiveCost"::DOUBLE * pf.fraction)::DECIMAL(38, 20)
  FROM decided d JOIN pool_fraction pf ON pf.billing_period = d.billing_period AND pf.pool = d.pool
  UNION ALL
  SELECT billing_period, "x_SourceFile", "x_SourceRow", 'unallocated', rule_id, 'unallocated', pool,
         fraction::DECIMAL(38, 20), "BilledCost", "EffectiveCost"
  FROM decided d
  WHERE team IS NULL AND (pool IS NULL OR NOT EXISTS
        (SELECT 1 FROM pool_fraction pf WHERE pf.billing_period = d.billing_period AND pf.pool = d.pool))
) TO {q(os.path.join(out, 'attributed'))} (FORMAT parquet, PARTITION_BY (billing_period), COMPRESSION snappy)""")


if __name__ == "__main__":
    main()
