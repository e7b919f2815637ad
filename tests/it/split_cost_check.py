#!/usr/bin/env python3
"""Re-derives, from the CUR fixture alone and with Python's decimal, what `tally attribute` must
write for a node split by its pods (AWS split cost allocation data), and compares it with the
attributed table, share by share, to the last of 20 decimals.

    split_cost_check.py <cur.csv> <lake> <policy> [<owner>]

What it checks (tests/it/containers.rs runs it once per idle policy):
- each node line with pod rows (same `lineItem/ResourceId` as the pods' `ParentResourceId`, same
  hour) is split over its pods' owners by `SplitCost` and, by the policy, their `UnusedCost`:
  `proportional` gives each owner its pods' unused part as a share of its own (pool
  `cluster:<name> > idle`), `owner` gives all of it to the cluster's owner, `unallocated` leaves it
  unallocated with the reason `idle capacity of cluster <name>`; used parts are pool
  `cluster:<name>`, split `kubernetes`, with the pods' namespace and workload;
- the split is largest remainder over those weights, parts in the order their pods first appear
  (then idle): BilledCost, EffectiveCost and share each add back to the line exactly;
- pod rows carry no cost of their own and keep their pods' owners (by the test's rules:
  namespace payments -> payments, label app=search -> search, namespaces kube-* -> platform,
  workload trainer -> ml);
- the cluster's cost lands once: the attributed total equals the CUR's lineItem/UnblendedCost total.
Prints `ok <node shares> shares` or the first difference, and exits 1 on a difference.
"""

import csv
import sys
from decimal import Decimal, ROUND_FLOOR

import duckdb

SCALE = 10**20
POD_TEAMS = {"payments": "payments", "search": "search", "kube-system": "platform", "ml": "ml"}


def units(text):
    return int((Decimal(text or "0") * SCALE).to_integral_value(ROUND_FLOOR)) if text else 0


def split(amount, weights):
    """Largest remainder, as tally's money::split: floor shares, then one unit each to the
    largest remainders (ties: the earlier part)."""
    total = sum(weights)
    magnitude = abs(amount)
    parts, remainders = [], []
    for i, w in enumerate(weights):
        q, r = divmod(magnitude * w, total)
        parts.append(q)
        remainders.append((-r, i))
    left = magnitude - sum(parts)
    for _, i in sorted(remainders)[:left]:
        parts[i] += 1
    return [p if amount >= 0 else -p for p in parts]


def main():
    cur, lake, policy = sys.argv[1], sys.argv[2], sys.argv[3]
    owner = sys.argv[4] if len(sys.argv) > 4 else None
    rows = list(csv.DictReader(open(cur)))
    pods = {}  # (parent, hour) -> ordered {(team, namespace, workload): [used, idle]}
    for r in rows:
        parent = r["splitLineItem/ParentResourceId"]
        if not parent:
            continue
        namespace = r["resourceTags/aws:eks:namespace"]
        workload = r["resourceTags/aws:eks:deployment"] or r["resourceTags/aws:eks:workload-name"]
        members = pods.setdefault((parent, r["lineItem/UsageStartDate"]), {})
        member = members.setdefault((POD_TEAMS[namespace], namespace, workload), [0, 0])
        member[0] += units(r["splitLineItem/SplitCost"])
        member[1] += units(r["splitLineItem/UnusedCost"])

    expected = []  # (source row, team, method, pool, split, reason, namespace, workload, billed, effective, share)
    for number, r in enumerate(rows, start=1):
        group = pods.get((r["lineItem/ResourceId"], r["lineItem/UsageStartDate"]))
        if group is None:
            continue
        cluster = r["resourceTags/aws:eks:cluster-name"]
        members = list(group.items())
        parts = [(("used", m), w[0]) for m, w in members]
        if policy == "proportional":
            parts += [(("idle", m), w[1]) for m, w in members]
        else:
            parts.append((("idle-" + policy, None), sum(w[1] for _, w in members)))
        parts = [(p, w) for p, w in parts if w > 0]
        cost = units(r["lineItem/UnblendedCost"])
        columns = [split(amount, [w for _, w in parts]) for amount in (cost, cost, SCALE)]
        for i, ((kind, member), _) in enumerate(parts):
            billed, effective, share = columns[0][i], columns[1][i], columns[2][i]
            if (billed, effective, share) == (0, 0, 0):
                continue
            pool = f"cluster:{cluster}"
            if kind == "used":
                team, namespace, workload = member
                expected.append((number, team, "shared", pool, "kubernetes", None, namespace, workload, billed, effective, share))
            elif kind == "idle":
                team, namespace, workload = member
                expected.append((number, team, "shared", pool + " > idle", "kubernetes > idle", None, namespace, workload, billed, effective, share))
            elif kind == "idle-owner":
                expected.append((number, owner, "shared", pool + " > idle", "kubernetes > idle", None, None, None, billed, effective, share))
            else:
                reason = f"idle capacity of cluster {cluster}"
                expected.append((number, "unallocated", "unallocated", pool + " > idle", "kubernetes > idle", reason, None, None, billed, effective, share))

    con = duckdb.connect()
    attributed = f"read_parquet('{lake}/attributed/*/*.parquet')"
    nodes = sorted({e[0] for e in expected})
    got = con.execute(
        f"""SELECT "x_SourceRow", team, method, pool, split, unallocated_reason, "x_Namespace", "x_Workload",
                   "BilledCost"::VARCHAR, "EffectiveCost"::VARCHAR, share::VARCHAR
            FROM read_parquet('{lake}/attributed/*/*.parquet', file_row_number = true)
            WHERE "x_SourceRow" IN ({", ".join(map(str, nodes))})
            ORDER BY "x_SourceRow", file_row_number"""
    ).fetchall()
    got = [tuple(g[:8]) + tuple(units(v) for v in g[8:]) for g in got]
    if got != expected:
        for g, e in zip(got + [None] * len(expected), expected + [None] * len(got)):
            if g != e:
                print(f"differs:\n  tally    {g}\n  expected {e}")
                break
        sys.exit(1)

    # Pod rows: no cost, their pods' owners, directly.
    for number, r in enumerate(rows, start=1):
        if not r["splitLineItem/ParentResourceId"]:
            continue
        team = POD_TEAMS[r["resourceTags/aws:eks:namespace"]]
        shares = con.execute(
            f"""SELECT team, "BilledCost"::VARCHAR, "EffectiveCost"::VARCHAR FROM {attributed} WHERE "x_SourceRow" = {number}"""
        ).fetchall()
        if [(s[0], units(s[1]), units(s[2])) for s in shares] != [(team, 0, 0)]:
            print(f"pod row {number}: {shares}, expected one share of {team} with no cost")
            sys.exit(1)

    # Once: the attributed total is the bill's.
    billed = sum(Decimal(r["lineItem/UnblendedCost"]) for r in rows)
    total = con.execute(f'SELECT sum("EffectiveCost")::VARCHAR FROM {attributed}').fetchone()[0]
    if Decimal(total) != billed:
        print(f"attributed total {total}, bill total {billed}")
        sys.exit(1)
    print(f"ok {len(expected)} shares")


if __name__ == "__main__":
    main()
