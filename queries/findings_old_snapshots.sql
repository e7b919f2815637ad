-- Old snapshots: still billed in the window ($1 .. $2) and first billed on or before $3
-- (the data's last day minus the age limit): at least that old.
SELECT provider, "SubAccountId", "ResourceId", "BillingCurrency", "ServiceName", cost, first_day
FROM (
    SELECT provider, coalesce("SubAccountId", '') AS "SubAccountId", "ResourceId", "BillingCurrency",
           min("ServiceName") AS "ServiceName",
           CAST(sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) >= $1 THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS cost,
           min(CAST("ChargePeriodStart" AS DATE)) AS first_day,
           max(CAST("ChargePeriodStart" AS DATE)) AS last_day
    FROM line_items
    WHERE "x_UsageType" LIKE '%EBS:SnapshotUsage%' AND "ResourceId" IS NOT NULL
      AND CAST("ChargePeriodStart" AS DATE) <= $2
    GROUP BY 1, 2, 3, 4
) snapshots
WHERE last_day >= $1 AND first_day <= $3
ORDER BY 3, 1, 2, 4
