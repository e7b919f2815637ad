-- Orphans: resources with usage spend in the window ($1 .. $2) that no rule owns.
SELECT provider, coalesce("SubAccountId", '') AS "SubAccountId", "ResourceId", "BillingCurrency",
       min("ServiceName") AS "ServiceName",
       min(coalesce(unallocated_reason, '')) AS reason,
       CAST(sum("EffectiveCost") AS DECIMAL(38, 20)) AS cost,
       CAST(min("ChargePeriodStart") AS DATE) AS first_day
FROM attributed
WHERE team = 'unallocated' AND "ResourceId" IS NOT NULL AND "ResourceId" <> ''
  AND "ChargeCategory" = 'Usage'
  AND CAST("ChargePeriodStart" AS DATE) BETWEEN $1 AND $2
GROUP BY 1, 2, 3, 4
ORDER BY 3, 1, 2, 4
