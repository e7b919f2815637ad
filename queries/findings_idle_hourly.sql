-- Idle hourly resources: billed for hours in the window ($1 .. $2; usage type LIKE $3) with
-- none of their work measure used at all (usage type LIKE $4): a load balancer's capacity
-- units (LCUs), a NAT gateway's processed bytes. first_day: the first day (to $2) it was billed.
SELECT provider, "SubAccountId", "ResourceId", "BillingCurrency", "ServiceName", cost, first_day
FROM (
    SELECT provider, coalesce("SubAccountId", '') AS "SubAccountId", "ResourceId", "BillingCurrency",
           min("ServiceName") AS "ServiceName",
           CAST(sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) >= $1 THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS cost,
           CAST(min("ChargePeriodStart") AS DATE) AS first_day,
           sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) >= $1 AND "x_UsageType" LIKE $3
                    THEN 1 ELSE 0 END) AS hour_lines,
           sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) >= $1 AND "x_UsageType" LIKE $4
                    THEN coalesce("PricingQuantity", 0) ELSE 0 END) AS work
    FROM line_items
    WHERE CAST("ChargePeriodStart" AS DATE) <= $2 AND "ResourceId" IS NOT NULL
      AND ("x_UsageType" LIKE $3 OR "x_UsageType" LIKE $4)
    GROUP BY 1, 2, 3, 4
) billed
WHERE hour_lines > 0 AND work = 0
ORDER BY 3, 1, 2, 4
