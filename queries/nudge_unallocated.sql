-- Unallocated spend each team probably owns: per account, the month's unallocated
-- amortized spend (EffectiveCost) to the as-of date, and the team that owns most of
-- the account's allocated spend in the same days (ties: the first team id).
-- Placeholders, replaced textually: {period} the billing period (YYYY-MM), {as_of} the
-- last charge day seen (YYYY-MM-DD). Used by `tally nudge` (src/nudge/content.rs).
WITH month_spend AS (
    SELECT team, method, "SubAccountId" AS account, coalesce("BillingCurrency", '') AS currency,
           "ResourceId" AS resource, "EffectiveCost" AS cost
    FROM attributed
    WHERE billing_period = '{period}'
      AND CAST("ChargePeriodStart" AS DATE) <= DATE '{as_of}'
      AND "SubAccountId" IS NOT NULL
),
owned AS (
    SELECT account, team, sum(cost) AS owned
    FROM month_spend
    WHERE method <> 'unallocated'
    GROUP BY account, team
),
ranked AS (
    SELECT account, team, owned,
           row_number() OVER (PARTITION BY account ORDER BY owned DESC, team) AS position
    FROM owned
),
unallocated AS (
    SELECT account, currency, sum(cost) AS amount, count(DISTINCT resource) AS resources, count(*) AS line_items
    FROM month_spend
    WHERE method = 'unallocated'
    GROUP BY account, currency
)
SELECT r.team, u.account, u.currency, u.amount, u.resources, u.line_items
FROM unallocated u
JOIN ranked r ON r.account = u.account AND r.position = 1
ORDER BY r.team, u.amount DESC, u.account, u.currency
