-- Idle NAT gateways: billed for hours in the window ($1 .. $2) with no bytes processed.
SELECT provider, coalesce("SubAccountId", '') AS "SubAccountId", "ResourceId", "BillingCurrency",
       min("ServiceName") AS "ServiceName",
       CAST(sum("EffectiveCost") AS DECIMAL(38, 20)) AS cost,
       CAST(min("ChargePeriodStart") AS DATE) AS first_day
FROM line_items
WHERE CAST("ChargePeriodStart" AS DATE) BETWEEN $1 AND $2 AND "ResourceId" IS NOT NULL
  AND ("x_UsageType" LIKE '%NatGateway-Hours' OR "x_UsageType" LIKE '%NatGateway-Bytes')
GROUP BY 1, 2, 3, 4
HAVING sum(CASE WHEN "x_UsageType" LIKE '%NatGateway-Hours' THEN 1 ELSE 0 END) > 0
   AND sum(CASE WHEN "x_UsageType" LIKE '%NatGateway-Bytes' THEN coalesce("PricingQuantity", 0) ELSE 0 END) = 0
ORDER BY 3, 1, 2, 4
