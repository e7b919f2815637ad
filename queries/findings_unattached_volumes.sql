-- Unattached volumes: block storage billed in the window ($1 .. $2) in an availability zone
-- where its account ran no instance at all. A volume attaches only to an instance of its own
-- account and zone, so the data shows these cannot be attached. first_day: the first day (to
-- $2) the volume was billed.
WITH instance_zones AS (
    SELECT DISTINCT "SubAccountId", "AvailabilityZone"
    FROM line_items
    WHERE CAST("ChargePeriodStart" AS DATE) BETWEEN $1 AND $2
      AND ("x_UsageType" LIKE '%BoxUsage%' OR "x_UsageType" LIKE '%SpotUsage%' OR "x_UsageType" LIKE '%DedicatedUsage%')
),
first_billed AS (
    SELECT provider, coalesce("SubAccountId", '') AS "SubAccountId", "ResourceId",
           CAST(min("ChargePeriodStart") AS DATE) AS first_day
    FROM line_items
    WHERE CAST("ChargePeriodStart" AS DATE) <= $2 AND "ResourceId" IS NOT NULL
      AND "x_UsageType" LIKE '%EBS:VolumeUsage%'
    GROUP BY 1, 2, 3
)
SELECT v.provider, coalesce(v."SubAccountId", '') AS "SubAccountId", v."ResourceId", v."BillingCurrency",
       min(v."ServiceName") AS "ServiceName", min(v."AvailabilityZone") AS zone,
       CAST(sum(v."EffectiveCost") AS DECIMAL(38, 20)) AS cost,
       min(f.first_day) AS first_day
FROM line_items v
LEFT JOIN instance_zones i ON i."SubAccountId" = v."SubAccountId" AND i."AvailabilityZone" = v."AvailabilityZone"
JOIN first_billed f ON f.provider = v.provider AND f."SubAccountId" = coalesce(v."SubAccountId", '')
                   AND f."ResourceId" = v."ResourceId"
WHERE CAST(v."ChargePeriodStart" AS DATE) BETWEEN $1 AND $2 AND v."ResourceId" IS NOT NULL
  AND v."x_UsageType" LIKE '%EBS:VolumeUsage%'
  AND v."AvailabilityZone" IS NOT NULL AND v."AvailabilityZone" <> '' AND i."AvailabilityZone" IS NULL
GROUP BY 1, 2, 3, 4
ORDER BY 3, 1, 2, 4
