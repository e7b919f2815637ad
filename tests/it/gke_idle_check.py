#!/usr/bin/env python3
"""Re-derives, from the GKE cost allocation fixture alone and with Python's decimal, what
`tally attribute` must write for a GKE cluster's idle rows (namespace `kube:unallocated`) under
each idle policy, and compares it with the attributed table line by line, share by share, to the
last of 20 decimals.

    gke_idle_check.py <export.json> <lake> <policy> <owner>

The model (tests/it/containers.rs runs it once per policy):
- GCP ingest: a row is one Usage line (BilledCost `cost`, EffectiveCost `cost` plus its
  committed-use credits) and one Credit line per credit (BilledCost the credit, EffectiveCost 0);
- the test's rules: namespace checkout -> checkout, label app=search -> search, namespaces kube-*
  and kube:system-overhead -> platform, tag team -> its team, cluster shop-gke -> k8s;
- a namespace row (not a `kube:` or `goog-k8s-` bucket) goes to its rule's team, directly;
- an idle row by the policy: `owner` all to <owner>, `unallocated` unallocated with the reason
  `idle capacity of cluster shop-gke`, both pool `cluster:shop-gke > idle`; `proportional` spread
  over the teams of the cluster's namespace rows of the same hour by their EffectiveCost (in the
  order they first appear), largest remainder, each share with that row's namespace and
  workload; with no namespace rows that hour, by the rules (cluster -> k8s);
- everything adds back: the attributed total is the export's `cost` plus credits.
Prints `ok <idle shares> idle shares` or the first difference, and exits 1 on a difference.
"""

import json
import sys
from decimal import Decimal, ROUND_FLOOR

import duckdb

SCALE = 10**20
CLUSTER = "shop-gke"


def units(value):
    return int((Decimal(str(value)) * SCALE).to_integral_value(ROUND_FLOOR)) if value is not None else 0


def split(amount, weights):
    """Largest remainder, as tally's money::split (ties: the earlier part)."""
    total = sum(weights)
    magnitude = abs(amount)
    parts, remainders = [], []
    for i, w in enumerate(weights):
        q, r = divmod(magnitude * w, total)
        parts.append(q)
        remainders.append((-r, i))
    for _, i in sorted(remainders)[: magnitude - sum(parts)]:
        parts[i] += 1
    return [p if amount >= 0 else -p for p in parts]


def owner_of(labels):
    namespace = labels.get("k8s-namespace")
    if namespace == "checkout":
        return "checkout", "checkout-namespace"
    if labels.get("k8s-label/app") == "search":
        return "search", "search-label"
    if namespace and (namespace.startswith("kube-") or namespace == "kube:system-overhead"):
        return "platform", "system" if namespace.startswith("kube-") else "overhead"
    if "team" in labels:
        return labels["team"], "team-tag"
    if labels.get("goog-k8s-cluster-name") == CLUSTER:
        return "k8s", "cluster"
    raise ValueError(labels)


def lines(row):
    """The row's line items as GCP ingest writes them: (category, billed, effective)."""
    credits = [units(c["amount"]) for c in row["credits"]]
    yield "Usage", units(row["cost"]), units(row["cost"]) + sum(credits)
    for credit in credits:
        yield "Credit", credit, 0


def main():
    export, lake, policy, owner = sys.argv[1:5]
    rows = [json.loads(line) for line in open(export)]
    hours = {}  # hour -> ordered {(team, rule, namespace, workload): weight}
    for r in rows:
        labels = {l["key"]: l["value"] for l in r["labels"]}
        namespace = labels.get("k8s-namespace")
        if labels.get("goog-k8s-cluster-name") != CLUSTER or namespace.startswith(("kube:", "goog-k8s-")):
            continue
        team, rule = owner_of(labels)
        members = hours.setdefault(r["usage_start_time"], {})
        member = (team, rule, namespace, labels.get("k8s-workload-name"))
        members[member] = members.get(member, 0) + sum(max(e, 0) for _, _, e in lines(r))

    expected = []  # (row, category, team, rule, method, pool, split, reason, namespace, workload, billed, effective, share)
    idle_shares = 0
    for number, r in enumerate(rows, start=1):
        labels = {l["key"]: l["value"] for l in r["labels"]}
        namespace = labels.get("k8s-namespace")
        idle = namespace == "kube:unallocated"
        members = [(m, w) for m, w in hours.get(r["usage_start_time"], {}).items() if w > 0]
        for category, billed, effective in lines(r):
            amounts = (billed, effective, SCALE)
            pool, kind = f"cluster:{CLUSTER} > idle", "kubernetes > idle"
            if idle and policy == "owner":
                expected.append((number, category, owner, None, "shared", pool, kind, None, None, None) + amounts)
            elif idle and policy == "unallocated":
                reason = f"idle capacity of cluster {CLUSTER}"
                expected.append((number, category, "unallocated", None, "unallocated", pool, kind, reason, None, None) + amounts)
            elif idle and members:
                columns = [split(a, [w for _, w in members]) for a in amounts]
                for i, ((team, rule, ns, workload), _) in enumerate(members):
                    piece = tuple(c[i] for c in columns)
                    if piece != (0, 0, 0):
                        expected.append((number, category, team, rule, "shared", pool, kind, None, ns, workload) + piece)
            else:
                team, rule = owner_of(labels)
                expected.append((number, category, team, rule, "direct", None, None, None, namespace,
                                 labels.get("k8s-workload-name")) + amounts)
                continue
            idle_shares += 1 if not (idle and members and policy == "proportional") else len(members)

    con = duckdb.connect()
    got = con.execute(
        f"""SELECT "x_SourceRow", "ChargeCategory", team, rule_id, method, pool, split, unallocated_reason,
                   "x_Namespace", "x_Workload", "BilledCost"::VARCHAR, "EffectiveCost"::VARCHAR, share::VARCHAR
            FROM read_parquet('{lake}/attributed/*/*.parquet', file_row_number = true)
            ORDER BY "x_SourceRow", "ChargeCategory" DESC, file_row_number"""
    ).fetchall()
    got = [tuple(g[:10]) + tuple(units(v) for v in g[10:]) for g in got]
    if got != expected:
        for g, e in zip(got + [None] * len(expected), expected + [None] * len(got)):
            if g != e:
                print(f"differs:\n  tally    {g}\n  expected {e}")
                break
        sys.exit(1)
    total = sum(Decimal(str(r["cost"])) + sum(Decimal(str(c["amount"])) for c in r["credits"]) for r in rows)
    got_total = con.execute(f"SELECT sum(\"BilledCost\")::VARCHAR FROM read_parquet('{lake}/attributed/*/*.parquet')").fetchone()[0]
    if Decimal(got_total) != total:
        print(f"attributed total {got_total}, export total {total}")
        sys.exit(1)
    print(f"ok {idle_shares} idle shares")


if __name__ == "__main__":
    main()
