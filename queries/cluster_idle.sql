-- Container clusters' idle capacity, this week (the 7 charge days ending on {as_of}) and the
-- week before: per cluster and currency, the amortized cost of the nodes its pods split (the
-- `cluster:<name>` shares) or of its namespace rows (GKE cost allocation bills a node per
-- namespace), and the idle part of it (`cluster:<name> > idle`, whoever owns it, and GKE's
-- `kube:unallocated` rows the rules decided because no namespace ran that hour).
-- Placeholders, replaced textually (digits and dashes only): {as_of} (YYYY-MM-DD), {from} (its
-- prior week's first day), {since_period} (the YYYY-MM of {from}, for pruning).
-- Rust: tally::queries::cluster_idle fills them; the weekly report and findings read it.
SELECT "x_Cluster" AS cluster, "BillingCurrency",
       CAST(sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) > CAST(DATE '{as_of}' - INTERVAL '7' DAY AS DATE)
                     THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS week_cost,
       CAST(sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) > CAST(DATE '{as_of}' - INTERVAL '7' DAY AS DATE)
                      AND (pool LIKE '% > idle%' OR "x_Namespace" = 'kube:unallocated') THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS week_idle,
       CAST(sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) <= CAST(DATE '{as_of}' - INTERVAL '7' DAY AS DATE)
                     THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS prior_cost,
       CAST(sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) <= CAST(DATE '{as_of}' - INTERVAL '7' DAY AS DATE)
                      AND (pool LIKE '% > idle%' OR "x_Namespace" = 'kube:unallocated') THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS prior_idle
FROM attributed
WHERE billing_period >= '{since_period}'
  AND "x_Cluster" IS NOT NULL AND (pool LIKE 'cluster:%' OR "x_Namespace" IS NOT NULL)
  AND CAST("ChargePeriodStart" AS DATE) BETWEEN DATE '{from}' AND DATE '{as_of}'
GROUP BY 1, 2
ORDER BY 1, 2
