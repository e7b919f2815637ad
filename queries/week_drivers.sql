-- What moved each team's spend this week, and by how much: amortized spend
-- (EffectiveCost, the team's own share of each line) per team, org path, currency
-- and dimension value, this week against the week before, with the change.
--
-- Weeks: this week is the 7 charge days ending on the as-of date (as_of - 6 .. as_of),
-- the prior week the 7 days before it (as_of - 13 .. as_of - 7), by the UTC date of
-- "ChargePeriodStart".
--
-- Placeholders, replaced textually before running (no bind parameters, so the file runs
-- as-is in DataFusion, DuckDB, Trino or Spark once substituted):
--   {as_of}         the as-of date, YYYY-MM-DD (digits and dashes only)
--   {since_period}  the YYYY-MM of the prior week's first day (as_of - 13): a lower bound on
--                   billing_period so engines prune older months' files; a charge is never
--                   billed in a month before its own. Replace with 0000-00 to scan everything.
-- Rust: tally::queries::week_drivers fills both; tally::nudge::drivers reads typed rows.
--
-- dimension: service ("ServiceName"), account ("SubAccountId"), region ("RegionId"),
-- resource ("ResourceId"); key is the value, '' where the line has none (tax, support...);
-- and workload, for spend in a container cluster ("x_Cluster"): `cluster/namespace/workload`
-- (a node's shares carry their pods' namespace and workload), no row outside clusters.
-- org_path is the team's current path (org_path_current), so a team that moved during
-- the two weeks is one row, not a spurious driver. Unallocated spend is team 'unallocated'.
-- Rows that are zero in both weeks are left out. Order: team, org_path, currency,
-- dimension, largest absolute change first, key.
WITH spend AS (
    SELECT team,
           org_path_current AS org_path,
           coalesce("BillingCurrency", '') AS currency,
           coalesce("ServiceName", '') AS service,
           coalesce("SubAccountId", '') AS account,
           coalesce("RegionId", '') AS region,
           coalesce("ResourceId", '') AS resource,
           CASE WHEN "x_Cluster" IS NULL THEN ''
                ELSE "x_Cluster" || '/' || coalesce("x_Namespace", '') || '/' || coalesce("x_Workload", '') END AS workload,
           CASE WHEN CAST("ChargePeriodStart" AS DATE) > CAST(DATE '{as_of}' - INTERVAL '7' DAY AS DATE)
                THEN "EffectiveCost" ELSE 0 END AS this_week,
           CASE WHEN CAST("ChargePeriodStart" AS DATE) <= CAST(DATE '{as_of}' - INTERVAL '7' DAY AS DATE)
                THEN "EffectiveCost" ELSE 0 END AS prior_week
    FROM attributed
    WHERE billing_period >= '{since_period}'
      AND CAST("ChargePeriodStart" AS DATE) >= CAST(DATE '{as_of}' - INTERVAL '13' DAY AS DATE)
      AND CAST("ChargePeriodStart" AS DATE) <= DATE '{as_of}'
),
drivers AS (
    SELECT team, org_path, currency, 'service' AS dimension, service AS key,
           sum(this_week) AS this_week, sum(prior_week) AS prior_week
    FROM spend GROUP BY team, org_path, currency, service
    UNION ALL
    SELECT team, org_path, currency, 'account' AS dimension, account AS key,
           sum(this_week) AS this_week, sum(prior_week) AS prior_week
    FROM spend GROUP BY team, org_path, currency, account
    UNION ALL
    SELECT team, org_path, currency, 'region' AS dimension, region AS key,
           sum(this_week) AS this_week, sum(prior_week) AS prior_week
    FROM spend GROUP BY team, org_path, currency, region
    UNION ALL
    SELECT team, org_path, currency, 'resource' AS dimension, resource AS key,
           sum(this_week) AS this_week, sum(prior_week) AS prior_week
    FROM spend GROUP BY team, org_path, currency, resource
    UNION ALL
    SELECT team, org_path, currency, 'workload' AS dimension, workload AS key,
           sum(this_week) AS this_week, sum(prior_week) AS prior_week
    FROM spend WHERE workload <> '' GROUP BY team, org_path, currency, workload
)
SELECT team, org_path, currency, dimension, key, this_week, prior_week,
       this_week - prior_week AS change
FROM drivers
WHERE this_week <> 0 OR prior_week <> 0
ORDER BY team, org_path, currency, dimension, abs(this_week - prior_week) DESC, key
