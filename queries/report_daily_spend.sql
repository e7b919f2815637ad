-- Amortized spend per charge day, team and org path (on the charge date, and
-- today), shared and unallocated spend included, from {from} to the as-of date.
SELECT CAST("ChargePeriodStart" AS DATE) AS day,
       team,
       org_path,
       org_path_current,
       sum("EffectiveCost") AS cost
FROM attributed
WHERE "BillingCurrency" = {currency}
  AND CAST("ChargePeriodStart" AS DATE) BETWEEN {from} AND {as_of}
GROUP BY CAST("ChargePeriodStart" AS DATE), team, org_path, org_path_current
ORDER BY day, team, org_path, org_path_current
