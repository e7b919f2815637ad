-- Object storage in the hottest class over the window ($1 .. $2): per bucket, the GB-months
-- stored in S3 Standard and their cost, and the requests made to it.
SELECT provider, coalesce("SubAccountId", '') AS "SubAccountId", "ResourceId", "BillingCurrency",
       min("RegionId") AS region, min("ServiceName") AS "ServiceName",
       CAST(sum(CASE WHEN "x_Operation" = 'StandardStorage' THEN "PricingQuantity" ELSE 0 END) AS DECIMAL(38, 20)) AS gb_months,
       CAST(sum(CASE WHEN "x_Operation" = 'StandardStorage' THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS standard_cost,
       CAST(sum(CASE WHEN "PricingUnit" = 'Requests' THEN "PricingQuantity" ELSE 0 END) AS DECIMAL(38, 20)) AS requests
FROM line_items
WHERE "ServiceName" = 'Amazon Simple Storage Service' AND "ChargeCategory" = 'Usage'
  AND "ResourceId" IS NOT NULL AND CAST("ChargePeriodStart" AS DATE) BETWEEN $1 AND $2
GROUP BY 1, 2, 3, 4
HAVING sum(CASE WHEN "x_Operation" = 'StandardStorage' THEN "PricingQuantity" ELSE 0 END) > 0
ORDER BY 3, 1, 2, 4
