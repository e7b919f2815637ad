-- Idle load balancers: billed for hours in the window ($1 .. $2) with no capacity units
-- (LCUs) used at all, i.e. no traffic. first_day: the first day (to $2) it was billed.
SELECT provider, "SubAccountId", "ResourceId", "BillingCurrency", "ServiceName", cost, first_day
FROM (
    SELECT provider, coalesce("SubAccountId", '') AS "SubAccountId", "ResourceId", "BillingCurrency",
           min("ServiceName") AS "ServiceName",
           CAST(sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) >= $1 THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS cost,
           CAST(min("ChargePeriodStart") AS DATE) AS first_day,
           sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) >= $1 AND "x_UsageType" LIKE '%LoadBalancerUsage'
                    THEN 1 ELSE 0 END) AS hour_lines,
           sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) >= $1 AND "x_UsageType" LIKE '%LCUUsage'
                    THEN coalesce("PricingQuantity", 0) ELSE 0 END) AS lcus
    FROM line_items
    WHERE CAST("ChargePeriodStart" AS DATE) <= $2 AND "ResourceId" IS NOT NULL
      AND ("x_UsageType" LIKE '%LoadBalancerUsage' OR "x_UsageType" LIKE '%LCUUsage')
    GROUP BY 1, 2, 3, 4
) lbs
WHERE hour_lines > 0 AND lcus = 0
ORDER BY 3, 1, 2, 4
