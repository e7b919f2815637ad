-- The data's own storage prices: the list price per GB-month of each S3 storage class
-- (x_Operation: StandardStorage, StandardIAStorage, GlacierInstantRetrievalStorage...) per region.
SELECT "RegionId" AS region, "x_Operation" AS class, "x_UsageType" AS usage_type,
       CAST(max("ListUnitPrice") AS DECIMAL(38, 20)) AS price
FROM line_items
WHERE "ServiceName" = 'Amazon Simple Storage Service' AND "ChargeCategory" = 'Usage'
  AND "PricingUnit" = 'GB-Mo' AND "x_Operation" LIKE '%Storage' AND "ListUnitPrice" IS NOT NULL
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
