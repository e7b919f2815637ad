-- Each team's five largest resources this month to the as-of date (amortized spend,
-- EffectiveCost, the team's own share of each line), with the rule, method and pool that
-- made them the team's: the "why is this ours" of a team's page. A resource split by a
-- pool, or owned by two rules on different days, is one row per (rule, method, pool).
-- Unallocated spend and lines without a resource are left out.
-- Placeholders, replaced textually: {currency} (quoted text), {month_start} and {as_of}
-- (DATE literals), {first_period} and {last_period} (quoted YYYY-MM, bounds for pruning).
WITH spend AS (
    SELECT team,
           "ResourceId" AS resource,
           coalesce(rule_id, '') AS rule_id,
           method,
           coalesce(pool, '') AS pool,
           sum("EffectiveCost") AS cost,
           count(*) AS line_items
    FROM attributed
    WHERE billing_period BETWEEN {first_period} AND {last_period}
      AND "BillingCurrency" = {currency}
      AND CAST("ChargePeriodStart" AS DATE) BETWEEN {month_start} AND {as_of}
      AND method <> 'unallocated'
      AND "ResourceId" IS NOT NULL AND "ResourceId" <> ''
    GROUP BY team, "ResourceId", coalesce(rule_id, ''), method, coalesce(pool, '')
),
ranked AS (
    SELECT team, resource, rule_id, method, pool, cost, line_items,
           row_number() OVER (PARTITION BY team ORDER BY cost DESC, resource, rule_id, pool) AS position
    FROM spend
)
SELECT team, resource, rule_id, method, pool, cost, line_items
FROM ranked
WHERE position <= 5
ORDER BY team, position
