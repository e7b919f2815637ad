-- Orphans: resources with usage spend in the window ($1 .. $2) that no rule owns; first_day is
-- the first day (to $2) the data shows the resource's spend unowned, not the window's start.
SELECT provider, "SubAccountId", "ResourceId", "BillingCurrency", "ServiceName", reason, cost, first_day
FROM (
    SELECT provider, coalesce("SubAccountId", '') AS "SubAccountId", "ResourceId", "BillingCurrency",
           min("ServiceName") AS "ServiceName",
           min(CASE WHEN CAST("ChargePeriodStart" AS DATE) >= $1 THEN coalesce(unallocated_reason, '') END) AS reason,
           CAST(sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) >= $1 THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS cost,
           CAST(min("ChargePeriodStart") AS DATE) AS first_day,
           CAST(max("ChargePeriodStart") AS DATE) AS last_day
    FROM attributed
    WHERE team = 'unallocated' AND "ResourceId" IS NOT NULL AND "ResourceId" <> ''
      AND "ChargeCategory" = 'Usage'
      AND CAST("ChargePeriodStart" AS DATE) <= $2
    GROUP BY 1, 2, 3, 4
) orphans
WHERE last_day >= $1
ORDER BY 3, 1, 2, 4
