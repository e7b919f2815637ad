-- Container clusters' idle capacity, this week ($2 - 6 .. $2) and the week before ($2 - 13 ..
-- $2 - 7): per cluster and currency, the amortized cost of the nodes its pods split (pool
-- `cluster:<name>`, idle shares `cluster:<name> > idle`), and the idle part of it. $1 is the
-- first day of the prior week (a bound for pruning).
SELECT "x_Cluster" AS cluster, "BillingCurrency",
       CAST(sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) > CAST($2 - INTERVAL '7' DAY AS DATE)
                     THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS week_cost,
       CAST(sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) > CAST($2 - INTERVAL '7' DAY AS DATE)
                      AND pool LIKE '% > idle%' THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS week_idle,
       CAST(sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) <= CAST($2 - INTERVAL '7' DAY AS DATE)
                     THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS prior_cost,
       CAST(sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) <= CAST($2 - INTERVAL '7' DAY AS DATE)
                      AND pool LIKE '% > idle%' THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS prior_idle
FROM attributed
WHERE pool LIKE 'cluster:%' AND "x_Cluster" IS NOT NULL
  AND CAST("ChargePeriodStart" AS DATE) BETWEEN $1 AND $2
GROUP BY 1, 2
ORDER BY 1, 2
