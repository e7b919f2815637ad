#!/usr/bin/env python3
"""Attribution benchmark (issue 4): `tally attribute` against DuckDB running the same
attribution in SQL (bench/attribution_duckdb.py), on the same lake, in one run.

    python3 bench/attribution.py --rows 10000000 --out /tmp/attr --tally target/release/tally
    python3 bench/attribution.py --quick --tally target/release/tally      # 1M line items
    python3 bench/attribution.py --lake /tmp/bench-out/tally-lake ...      # reuse an ingested lake
    python3 bench/attribution.py --pods-per-node 40 ...                    # cluster-heavy: ~30% pod rows

Steps:
  1. a lake: the demo company's CUR (`tally demo --no-ingest`) ingested by tally, unless
     --lake names one already ingested (e.g. bench/run.py's tally-lake); --pods-per-node 40
     bills its shared EKS cluster's nodes with 40 pods a day (split cost allocation data):
     about 30% of the line items are pod rows, and every node line is split by its pods;
  2. mappings in tally's TOML format, generated from what the lake holds (seeded): the
     demo org plus 400 generated teams, 2,000 account rules, 10,000 tag-value rules, 300
     resource_regex rules, a team-from-tag rule, a few service and charge-category rules,
     and 20 pools (even, weights, proportional with and without scope, pools feeding
     pools). Part of each kind matches the demo's accounts, tag values and resource ids;
     the rest is noise (accounts, tag values and names the lake does not have);
  3. timed, each under /usr/bin/time -v: `tally attribute`, then the DuckDB peer;
  4. cross-check (not timed): per billing period and team, both costs must agree to the
     cent (DuckDB's split is amount * fraction in DOUBLE, tally's is exact largest
     remainder), and every line item must have the same winning rule id.
Prints JSON: seconds, peak RSS, ratio, how line items were decided, the check.
Never run from tests: timings are not assertions.
"""
import argparse
import hashlib
import json
import os
import random
import re
import shutil
import sys
import time
import tomllib

import duckdb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import timed  # noqa: E402

WORDS = """atlas beacon cobalt delta ember falcon garnet harbor iris juniper kestrel lumen
meridian nimbus onyx pioneer quartz raven sierra tundra umbra vertex willow xenon yonder
zephyr amber basalt cinder dune echo fjord glacier halo indigo jade krypton lotus mosaic
nova orbit prism quill ripple summit tidal ultra vortex wren""".split()
NOUNS = """ledger gateway router crawler indexer scheduler mailer resolver tracker broker
vault portal relay sync cache planner scorer ranker notifier exporter importer auditor""".split()
# Proportional pools are scoped only to org nodes no team moves into or out of (the demo's
# reorg moves `fraud` from payments to data): the SQL peer checks scope on the undated org.
SCOPES = ["growth", "core-product", "platform"]


def lake_vocabulary(lake):
    """What the lake holds: accounts, tag values, owners (by team tag), resource ids."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    li = f"read_parquet('{lake}/line_items/**/*.parquet', hive_partitioning = true)"
    team_value = """coalesce(nullif(lower(trim("Tags"['team'])), ''), nullif(lower(trim("Tags"['Team'])), ''),
                             nullif(lower(trim("Tags"['owner-team'])), ''))"""
    v = {}
    v["accounts"] = con.sql(f'SELECT "SubAccountId", count(*) FROM {li} GROUP BY 1 ORDER BY 1').fetchall()
    v["payers"] = [r[0] for r in con.sql(f'SELECT DISTINCT "BillingAccountId" FROM {li} ORDER BY 1').fetchall()]
    v["services"] = con.sql(
        f'SELECT "SubAccountId", "x_ServiceCode", count(*) FROM {li} GROUP BY 1, 2 ORDER BY 1, 2').fetchall()
    v["tags"] = con.sql(f"""SELECT lower(trim(e.key)), lower(trim(e.value)), count(*) FROM
        (SELECT unnest(map_entries("Tags")) AS e FROM {li}) WHERE e.value IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2""").fetchall()
    v["team_by"] = {
        what: con.sql(f"SELECT {expr} AS k, {team_value} AS t, count(*) FROM {li} WHERE k IS NOT NULL AND t IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
        for what, expr in [("service", """lower(trim("Tags"['service']))"""), ("account", '"SubAccountId"'),
                           ("account_service", """"SubAccountId" || '/' || "x_ServiceCode\"""")]
    }
    v["resources"] = [r[0] for r in con.sql(
        f'SELECT DISTINCT "ResourceId" FROM {li} WHERE "ResourceId" IS NOT NULL ORDER BY hash("ResourceId"), 1 LIMIT 5000').fetchall()]
    v["periods"] = [r[0] for r in con.sql(f"SELECT DISTINCT billing_period FROM {li} ORDER BY 1").fetchall()]
    v["line_items"] = con.execute(f"SELECT count(*) FROM {li}").fetchall()[0][0]
    return v


def toml_value(x):
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, list):
        return "[" + ", ".join(toml_value(i) for i in x) + "]"
    if isinstance(x, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in x.items()) + " }"
    return json.dumps(str(x))  # TOML basic strings escape like JSON for what we write


def toml_key(k):
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


class Day(str):
    """A TOML date (written bare)."""


def write_rules(path, tag_aliases, rules):
    lines = ["# Generated by bench/attribution.py: a large rule set for the attribution benchmark.", "", "[tag_aliases]"]
    lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in tag_aliases.items()]
    for r in rules:
        lines += ["", "[[rule]]"]
        for k, v in r.items():
            lines.append(f"{k} = {v}" if isinstance(v, Day) else f"{toml_key(k)} = {toml_value(v)}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def write_pools(path, pools):
    lines = ["# Generated by bench/attribution.py: 20 shared pools."]
    for p in pools:
        lines += ["", "[[pool]]"] + [f"{toml_key(k)} = {toml_value(v)}" for k, v in p.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


ABLATIONS = {
    "none": "the benchmark's mappings",
    "no-regex": "without the 300 resource_regex rules",
    "regex-last": "resource_regex rules moved after every other rule (precedence 900+)",
    "no-multikey": "without the tag rules on two keys (`env` and `service`)",
    "no-proportional": "proportional pools replaced by even splits over the demo teams (one pass instead of two)",
}


def ablate(rules, pools, demo_teams, ablation):
    """The same mappings with one feature removed, to see what it costs (timing only)."""
    if ablation == "no-regex":
        rules = [r for r in rules if "resource_regex" not in r]
    elif ablation == "regex-last":
        rules = [r | {"precedence": 900 + r["precedence"]} if "resource_regex" in r else r for r in rules]
    elif ablation == "no-multikey":
        rules = [r for r in rules if len(r.get("tags", {})) < 2]
    elif ablation == "no-proportional":
        pools = [{"id": p["id"], "split": "even", "to": demo_teams} if p["split"] == "proportional" else p for p in pools]
    return rules, pools


def generate_mappings(vocab, out, seed=7, ablation="none", noise=1.0):
    """Writes out/{org,rules,pools}.toml; returns a summary of what was generated. `noise` scales the
    number of account and tag-value rules (exact-match rules), for the rule-count scaling table."""
    rng = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    demo_org_text = open(os.path.join(ROOT, "fixtures", "demo-mappings", "org.toml")).read()
    demo_org = tomllib.loads(demo_org_text)
    demo_teams = sorted(demo_org["teams"])
    alias = {}
    for t, spec in demo_org["teams"].items():
        for a in [t, *spec.get("aliases", [])]:
            alias[a.lower()] = t

    # 400 generated teams in 8 business units of 5 groups: realistic noise for rules.
    noise_teams, bus = [], []
    org_lines = [demo_org_text.rstrip(), "", "# Generated by bench/attribution.py: 8 more business units, 400 more teams."]
    node_lines, team_lines = [], []
    for b in range(8):
        bu = f"bu-{WORDS[b]}"
        bus.append(bu)
        node_lines.append(f'[nodes.{bu}]\nparent = "acme"\nname = "{WORDS[b].title()} BU (CC-{5100 + b * 100})"')
        for g in range(5):
            group = f"{bu}-g{g}"
            node_lines.append(f'[nodes.{group}]\nparent = "{bu}"')
            for i in range(10):
                team = f"{WORDS[(b * 7 + g * 3 + i) % len(WORDS)]}-{NOUNS[(b * 5 + g + i * 3) % len(NOUNS)]}-{b}{g}{i}"
                noise_teams.append(team)
                team_lines.append(f'[teams.{team}]\nparent = "{group}"\naliases = ["{team}-svc"]')
    # TOML: a table may be defined once, so generated nodes use dotted [nodes.x] headers.
    with open(os.path.join(out, "org.toml"), "w") as f:
        f.write("\n".join(org_lines + [""] + node_lines + [""] + team_lines) + "\n")

    def owner(rows):
        """key -> the team its lines' team tags name most often."""
        best = {}
        for key, value, n in rows:
            team = alias.get(value)
            if team and n > best.get(key, ("", 0))[1]:
                best[key] = (team, n)
        return {k: t for k, (t, _) in best.items()}

    service_owner = owner(vocab["team_by"]["service"])
    account_owner = owner(vocab["team_by"]["account"])
    account_service_owner = owner(vocab["team_by"]["account_service"])
    accounts = [a for a, _ in vocab["accounts"]]
    payers = vocab["payers"]
    members = [a for a in accounts if a not in payers]
    tags = {}
    for k, val, n in vocab["tags"]:
        tags.setdefault(k, []).append(val)
    services_tag = sorted(tags.get("service", []))
    cost_centers = sorted(tags.get("cost-center", []))

    pools = [
        {"id": "company-overhead", "split": "proportional"},
        {"id": "platform-overhead", "split": "weights",
         "weights": {"k8s-platform": 3, "observability": 2, "networking": 2, "security": 2, "ci": 1}},
        {"id": "shared-eks", "split": "even",
         "to": ["k8s-platform", "data-platform", "ml-platform", "search", "recommendations", "pool:platform-overhead"]},
        *({"id": f"{scope.split('-')[0]}-shared", "split": "proportional", "scope": scope} for scope in SCOPES),
        {"id": "staging-shared", "split": "weights", "weights": {"ci": 1, "pool:company-overhead": 3}},
        {"id": "dev-overhead", "split": "even", "to": ["ci", "k8s-platform", "observability"]},
        {"id": "payments-shared", "split": "proportional", "to": ["payments-api", "ledger", "billing", "checkout"]},
        {"id": "data-shared", "split": "weights",
         "weights": {"data-platform": 4, "analytics": 2, "ml-platform": 2, "data-ingest": 1, "search": 1}},
    ]
    for b, bu in enumerate(bus[:8]):
        if b < 6:
            pools.append({"id": f"{bu}-overhead", "split": "proportional", "scope": bu})
        elif b == 6:
            pools.append({"id": f"{bu}-shared", "split": "even", "to": noise_teams[b * 50: b * 50 + 6]})
        else:
            pools.append({"id": f"{bu}-shared", "split": "weights",
                          "weights": {t: i + 1 for i, t in enumerate(noise_teams[b * 50: b * 50 + 4])} | {"pool:company-overhead": 2}})
    assert len(pools) == 18
    pools += [{"id": "networking-shared", "split": "weights", "weights": {"networking": 3, "pool:platform-shared": 1}},
              {"id": "search-shared", "split": "even", "to": ["search", "recommendations", "catalog"]}]
    assert len(pools) == 20
    real_pools = [p["id"] for p in pools[:10]] + ["networking-shared", "search-shared"]
    noise_pools = [p["id"] for p in pools[10:18]]
    periods = vocab["periods"]
    # Effective dates inside the lake's months, so from/until really cut.
    mid_days = [Day(f"{p}-{d:02d}") for p in periods for d in (10, 15, 20)]

    def target(team_choices, pool_choices, pool_share):
        if rng.random() < pool_share:
            return {"pool": rng.choice(pool_choices)}
        return {"team": rng.choice(team_choices)}

    def maybe_dates(r, share):
        if rng.random() < share:
            if rng.random() < 0.5:
                r["from"] = rng.choice(mid_days)
            else:
                r["until"] = rng.choice(mid_days)
        return r

    rules = []
    summary = {}

    # ---- account rules: 2,000 ----------------------------------------------------------
    acct = []
    owners = sorted(account_owner.items())
    # Single-owner accounts: the 5 accounts whose lines' team tags agree most.
    share = {}
    for a, t, n in vocab["team_by"]["account"]:
        tot = share.setdefault(a, [0, 0])
        tot[1] += n
        if account_owner.get(a) == alias.get(t):
            tot[0] += n
    single = sorted((a for a in members if a in share), key=lambda a: (-share[a][0] / share[a][1], a))[:5]
    for a in single:
        acct.append({"id": f"account-{a}", "precedence": 10, "accounts": [a], "team": account_owner[a]})
    for a, code, n in vocab["services"]:
        if a in payers or rng.random() > 0.6:
            continue
        t = account_service_owner.get(f"{a}/{code}") or account_owner.get(a) or rng.choice(demo_teams)
        # Before the team tag in single-owner accounts, a fallback after it in shared ones.
        precedence = rng.randrange(20, 90) if a in single else rng.randrange(320, 390)
        r = {"id": f"account-{a}-{code.lower()}", "precedence": precedence, "accounts": [a], "services": [code]}
        r |= {"team": t} if rng.random() < 0.7 else {"pool": rng.choice(real_pools)}
        acct.append(maybe_dates(r, 0.25))
    for a in payers:
        acct.append({"id": f"payer-{a}", "precedence": 400, "accounts": [a], "pool": "company-overhead"})
    for a in members[::2]:
        acct.append({"id": f"fallback-{a}", "precedence": 450, "accounts": [a],
                     "pool": rng.choice(["company-overhead", "platform-shared", "growth-shared", "core-shared"])})
    summary["account_rules_on_lake_accounts"] = len(acct)
    fake_accounts = set()
    while len(acct) < round(2000 * noise):
        n = rng.choice([1, 1, 1, 2, 3])
        accts = []
        for _ in range(n):
            a = f"{rng.randrange(10**11, 10**12):012d}"
            if a not in accounts:
                fake_accounts.add(a)
                accts.append(a)
        r = {"id": f"acct-{len(acct):04d}", "precedence": rng.randrange(10, 100), "accounts": accts}
        if rng.random() < 0.3:
            r["services"] = rng.sample(["AmazonEC2", "AmazonS3", "AmazonRDS", "AWSLambda", "AmazonDynamoDB"], 2)
        r |= target(noise_teams, noise_pools, 0.15)
        acct.append(maybe_dates(r, 0.1))
    rules += acct

    # ---- tag-value rules: 10,000 -------------------------------------------------------
    tag = []
    for s in services_tag:
        tag.append(maybe_dates({"id": f"tag-service-{s}", "precedence": 250, "tags": {"service": s},
                                "team": service_owner.get(s) or rng.choice(demo_teams)}, 0.1))
    for i, cc in enumerate(cost_centers):
        tag.append({"id": f"tag-cc-{cc}", "precedence": 260, "tags": {"cost-center": cc.upper()},
                    "pool": ["platform-shared", "growth-shared", "core-shared", "payments-shared", "data-shared"][i % 5]})
    for s in services_tag:
        if rng.random() < 0.4:
            tag.append({"id": f"tag-staging-{s}", "precedence": 240, "tags": {"env": "staging", "service": s},
                        "pool": "staging-shared"})
    tag.append({"id": "tag-env-dev", "precedence": 290, "tags": {"env": ["dev", "development"]}, "pool": "dev-overhead"})
    # Known junk team values: `tbd` goes to overhead, a misspelling to its team (via an alias key).
    tag.append({"id": "tag-team-tbd", "precedence": 150, "tags": {"Team": "TBD"}, "pool": "company-overhead"})
    tag.append({"id": "tag-team-typo", "precedence": 205, "tags": {"owner-team": "paymnets-api"}, "team": "payments-api"})
    summary["tag_rules_on_lake_values"] = len(tag)
    fake_services = set()
    while len(tag) < round(10000 * noise):
        i = len(tag)
        kind = rng.random()
        if kind < 0.55:
            value = f"{rng.choice(WORDS)}-{rng.choice(NOUNS)}-{rng.randrange(1000)}"
            if value in services_tag:
                continue
            fake_services.add(value)
            r = {"tags": {"service": value}}
        elif kind < 0.7:
            r = {"tags": {"cost-center": f"CC-{rng.randrange(6000, 9999)}"}}
        elif kind < 0.85:
            r = {"tags": {"app": f"{rng.choice(WORDS)}-{rng.randrange(100)}"}}
        elif kind < 0.98:
            r = {"tags": {"project": [f"{rng.choice(WORDS)}-{rng.choice(NOUNS)}" for _ in range(rng.choice([1, 2]))]}}
        else:
            # Multi-key: `env` sorts first, so tally indexes these on the env value.
            r = {"tags": {"env": rng.choice(["prod", "staging"]), "service": f"{rng.choice(WORDS)}-{rng.choice(NOUNS)}"}}
        r = {"id": f"tag-{i:05d}", "precedence": rng.randrange(200, 300)} | r | target(noise_teams, noise_pools, 0.1)
        tag.append(maybe_dates(r, 0.05))
    rules += tag

    # ---- resource_regex rules: 300 -----------------------------------------------------
    templates = [
        ("lambda", r"^arn:aws:lambda:[a-z0-9-]+:\d{{12}}:function:{s}-[a-z]+-(prod|staging|dev)-[0-9a-f]{{8}}$"),
        ("logs", r":log-group:/ecs/{s}-(prod|staging|dev)-"),
        ("dynamodb", r"^arn:aws:dynamodb:[a-z0-9-]+:\d{{12}}:table/{s}-"),
        ("rds", r"^arn:aws:rds:[a-z0-9-]+:\d{{12}}:db:{s}-"),
        ("s3", r"^acme-{s}-(artifacts|uploads|exports|raw|backups|assets)-(prod|staging|dev)-"),
    ]
    sample = vocab["resources"]
    regex = []
    for s in services_tag:
        for kind, tpl in templates:
            pattern = tpl.format(s=re.escape(s))
            if any(re.search(pattern, rid) for rid in sample) and rng.random() < 0.6 and len(regex) < 90:
                precedence = rng.randrange(100, 200) if rng.random() < 0.7 else rng.randrange(200, 400)
                r = {"id": f"regex-{kind}-{s}", "precedence": precedence, "resource_regex": pattern}
                r |= {"team": service_owner.get(s) or rng.choice(demo_teams)} if rng.random() < 0.8 else {"pool": rng.choice(real_pools)}
                regex.append(r)
    regex.append({"id": "regex-nat-gateways", "precedence": 120, "resource_regex": r"^arn:aws:ec2:[a-z0-9-]+:\d{12}:natgateway/nat-[0-9a-f]{17}$",
                  "pool": "networking-shared"})
    summary["regex_rules_on_lake_names"] = len(regex)
    while len(regex) < 300:
        kind, tpl = rng.choice(templates)
        name = rng.choice([f"{rng.choice(WORDS)}-{rng.choice(NOUNS)}", f"legacy-{rng.choice(services_tag or WORDS)}",
                           f"{rng.choice(WORDS)}-v{rng.randrange(2, 9)}"])
        r = {"id": f"regex-{len(regex):03d}", "precedence": rng.randrange(100, 400), "resource_regex": tpl.format(s=re.escape(name))}
        regex.append(r | target(noise_teams, noise_pools, 0.1))
    rules += regex

    # ---- the rest: team tag, services, charge categories ---------------------------------
    rules += [
        {"id": "tax-and-credits", "precedence": 5, "charge_categories": ["Tax", "Credit"], "pool": "company-overhead"},
        {"id": "team-tag", "precedence": 200, "team_from_tag": "team"},
        {"id": "eks", "precedence": 300, "services": ["AmazonEKS"], "pool": "shared-eks"},
        {"id": "support", "precedence": 410, "services": ["AWSSupportBusiness", "AWS Support (Business)"], "pool": "company-overhead"},
        {"id": "commitments", "precedence": 420, "charge_categories": ["Purchase"], "pool": "company-overhead"},
    ]
    rules, pools = ablate(rules, pools, demo_teams, ablation)
    rng.shuffle(rules)  # file order must not matter
    write_rules(os.path.join(out, "rules.toml"), {"team": ["Team", "owner-team"]}, rules)
    write_pools(os.path.join(out, "pools.toml"), pools)
    digest = hashlib.sha256()
    for name in ("org.toml", "rules.toml", "pools.toml"):
        digest.update(open(os.path.join(out, name), "rb").read())
    summary |= {
        "ablation": ablation,
        "account_rules": len(acct), "tag_value_rules": len(tag), "regex_rules": len(regex), "pools": len(pools),
        "teams": len(demo_teams) + len(noise_teams), "rules_total": len(rules), "sha256": digest.hexdigest()[:12],
    }
    return summary


CHECK = """
WITH t AS (SELECT billing_period, team, sum("BilledCost") AS billed, sum("EffectiveCost") AS effective
           FROM read_parquet('{tally}/**/*.parquet', hive_partitioning = true) GROUP BY ALL),
     d AS (SELECT billing_period, team, sum("BilledCost") AS billed, sum("EffectiveCost") AS effective
           FROM read_parquet('{duck}/**/*.parquet', hive_partitioning = true) GROUP BY ALL)
SELECT coalesce(t.billing_period, d.billing_period) AS period, coalesce(t.team, d.team) AS team,
       t.billed AS tally_billed, d.billed AS duckdb_billed, t.effective AS tally_effective, d.effective AS duckdb_effective,
       abs(coalesce(t.billed, 0) - coalesce(d.billed, 0)) AS billed_diff,
       abs(coalesce(t.effective, 0) - coalesce(d.effective, 0)) AS effective_diff
FROM t FULL OUTER JOIN d ON t.billing_period = d.billing_period AND t.team = d.team
ORDER BY greatest(billed_diff, effective_diff) DESC, period, team
"""

CHECK_LINES = """
WITH t AS (SELECT "x_SourceFile" AS f, "x_SourceRow" AS r, string_agg(DISTINCT coalesce(rule_id, '-'), ' ' ORDER BY coalesce(rule_id, '-')) AS rule_id
           FROM read_parquet('{tally}/**/*.parquet') GROUP BY 1, 2),
     d AS (SELECT "x_SourceFile" AS f, "x_SourceRow" AS r, string_agg(DISTINCT coalesce(rule_id, '-'), ' ' ORDER BY coalesce(rule_id, '-')) AS rule_id
           FROM read_parquet('{duck}/**/*.parquet') GROUP BY 1, 2)
SELECT count(*) FILTER (WHERE t.rule_id IS DISTINCT FROM d.rule_id OR t.f IS NULL OR d.f IS NULL) AS differ,
       count(*) AS lines,
       arg_min([t.f, t.r::VARCHAR, t.rule_id, d.f, d.r::VARCHAR, d.rule_id], coalesce(t.f, d.f) || coalesce(t.r, d.r)::VARCHAR)
         FILTER (WHERE t.rule_id IS DISTINCT FROM d.rule_id OR t.f IS NULL OR d.f IS NULL) AS first
FROM t FULL OUTER JOIN d ON t.f = d.f AND t.r = d.r
"""

DECIDED_BY = """
SELECT CASE WHEN rule_id IS NULL THEN 'no rule'
            WHEN rule_id LIKE 'account-%' OR rule_id LIKE 'acct-%' OR rule_id LIKE 'payer-%' OR rule_id LIKE 'fallback-%' THEN 'account rule'
            WHEN rule_id LIKE 'tag-%' THEN 'tag-value rule'
            WHEN rule_id LIKE 'regex-%' THEN 'regex rule'
            WHEN rule_id = 'team-tag' THEN 'team tag'
            ELSE 'service / charge category rule' END AS kind,
       count(DISTINCT rule_id) AS rules, count(*) AS line_items
FROM (SELECT DISTINCT "x_SourceFile", "x_SourceRow", rule_id FROM read_parquet('{tally}/**/*.parquet'))
GROUP BY 1 ORDER BY 3 DESC
"""


def cross_check(tally_attributed, duck_attributed):
    con = duckdb.connect()
    rows = con.sql(CHECK.format(tally=tally_attributed, duck=duck_attributed)).fetchall()
    cent_bad = [r for r in rows if r[6] >= 0.005 or r[7] >= 0.005]
    exact = sum(1 for r in rows if r[6] == 0 and r[7] == 0)
    lines = con.execute(CHECK_LINES.format(tally=tally_attributed, duck=duck_attributed)).fetchall()[0]
    result = {
        "period_team_pairs": len(rows),
        "pairs_equal_exactly": exact,
        "pairs_differing_by_a_cent_or_more": len(cent_bad),
        "max_abs_diff": float(max((max(r[6], r[7]) for r in rows), default=0)),
        "line_items_compared": lines[1],
        "line_items_with_different_rule": lines[0],
        "agree": not cent_bad and lines[0] == 0,
    }
    if cent_bad:
        r = cent_bad[0]
        result["first_disagreement"] = {"period": r[0], "team": r[1], "tally_billed": str(r[2]), "duckdb_billed": str(r[3]),
                                        "tally_effective": str(r[4]), "duckdb_effective": str(r[5])}
    if lines[0]:
        f = lines[2]
        result["first_line_disagreement"] = {"tally": {"file": f[0], "row": f[1], "rule_id": f[2]},
                                             "duckdb": {"file": f[3], "row": f[4], "rule_id": f[5]}}
    result["decided_by"] = [dict(zip(("kind", "rules", "line_items"), r))
                            for r in con.sql(DECIDED_BY.format(tally=tally_attributed)).fetchall()]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="line items to generate (approximate)")
    parser.add_argument("--quick", action="store_true", help="1M line items instead of --rows")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "attribution"))
    parser.add_argument("--lake", help="an ingested lake to reuse (its attributed table is replaced)")
    parser.add_argument("--tally", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "tally"))
    parser.add_argument("--pods-per-node", type=int, default=3,
                        help="pods per node and day in the demo's shared EKS cluster (40: ~30%% of line items are pod rows)")
    parser.add_argument("--skip-check", action="store_true", help="no cross-check (it joins both outputs per line)")
    parser.add_argument("--tally-only", action="store_true", help="time tally only (no DuckDB, no check)")
    parser.add_argument("--noise", type=float, default=1.0,
                        help="scale the 2,000 account and 10,000 tag-value rules by this factor (rule-count scaling)")
    parser.add_argument("--ablation", choices=ABLATIONS, default="none",
                        help="remove one feature from the mappings to see its cost: " +
                        "; ".join(f"{k}: {v}" for k, v in ABLATIONS.items()))
    args = parser.parse_args()
    if args.quick:
        args.rows = 1_000_000
    if not os.path.exists(args.tally):
        sys.exit(f"{args.tally} not found: run `cargo build --release` first (or pass --tally)")
    os.makedirs(args.out, exist_ok=True)
    results = {"cpus": os.cpu_count(), "loadavg_at_start": open("/proc/loadavg").read().split()[:3]}

    lake = args.lake
    if not lake:
        demo, lake = os.path.join(args.out, "demo"), os.path.join(args.out, "lake")
        shutil.rmtree(demo, ignore_errors=True)
        shutil.rmtree(lake, ignore_errors=True)
        timed([args.tally, "-q", "demo", "--no-ingest", "--rows", str(args.rows), "--pods-per-node", str(args.pods_per_node),
               "--out", demo])
        s, rss, _ = timed([args.tally, "-q", "ingest", os.path.join(demo, "cur"), "--lake", lake])
        results["setup_ingest"] = {"seconds": round(s, 2), "peak_rss_mib": round(rss)}
        shutil.rmtree(demo, ignore_errors=True)

    start = time.perf_counter()
    vocab = lake_vocabulary(lake)
    mappings = os.path.join(args.out, "mappings")
    shutil.rmtree(mappings, ignore_errors=True)
    results["line_items"] = vocab["line_items"]
    results["pod_rows"] = duckdb.sql(f"""SELECT count(*) FROM read_parquet('{lake}/line_items/**/*.parquet', union_by_name = true)
                                         WHERE "x_SplitParentResourceId" IS NOT NULL""").fetchall()[0][0]
    results["mappings"] = generate_mappings(vocab, mappings, ablation=args.ablation, noise=args.noise)
    results["mappings"]["generation_seconds"] = round(time.perf_counter() - start, 2)

    log = os.path.join(args.out, "tally-attribute.log")
    t_s, t_rss, t_cpu = timed([args.tally, "attribute", "--lake", lake, "--mappings", mappings], log=log)
    if args.tally_only:
        results["attribute"] = {"tally_s": round(t_s, 2), "tally_cpu_s": round(t_cpu, 2), "tally_peak_rss_mib": round(t_rss),
                                "tally_line_items_per_s": round(vocab["line_items"] / t_s)}
        print(json.dumps(results, indent=2, default=str))
        return
    duck_out = os.path.join(args.out, "duckdb-attributed")
    shutil.rmtree(duck_out, ignore_errors=True)
    os.makedirs(duck_out)
    d_s, d_rss, d_cpu = timed([sys.executable, os.path.join(HERE, "attribution_duckdb.py"), lake, mappings, duck_out])
    shutil.rmtree(os.path.join(duck_out, "_tmp"), ignore_errors=True)
    results["attribute"] = {
        "tally_s": round(t_s, 2), "duckdb_s": round(d_s, 2), "ratio": round(t_s / d_s, 2),
        "tally_peak_rss_mib": round(t_rss), "duckdb_peak_rss_mib": round(d_rss),
        "tally_cpu_s": round(t_cpu, 2), "duckdb_cpu_s": round(d_cpu, 2),
        "tally_line_items_per_s": round(vocab["line_items"] / t_s),
    }
    results["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
    if not args.skip_check:
        results["check"] = cross_check(os.path.join(lake, "attributed"), os.path.join(duck_out, "attributed"))
    print(json.dumps(results, indent=2, default=str))
    if not args.skip_check and not results["check"]["agree"]:
        sys.exit("tally and DuckDB disagree (see check)")


if __name__ == "__main__":
    main()
