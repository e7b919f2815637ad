-- Commitment coverage per account over the window ($1 .. $2): usage of eligible kinds
-- (instance hours, and any usage type a commitment covers somewhere in the lake) covered by a
-- Reserved Instance or Savings Plan (PricingCategory Committed: its list and effective cost)
-- and left on demand (PricingCategory Standard), with the smallest day of on-demand spend.
WITH eligible_types AS (
    SELECT DISTINCT "x_UsageType" FROM line_items WHERE "PricingCategory" = 'Committed'
),
eligible AS (
    SELECT l.provider, coalesce(l."SubAccountId", '') AS "SubAccountId", l."BillingCurrency",
           CAST(l."ChargePeriodStart" AS DATE) AS day, l."PricingCategory",
           l."EffectiveCost", coalesce(l."ListCost", l."EffectiveCost") AS list_cost
    FROM line_items l
    LEFT JOIN eligible_types e ON e."x_UsageType" = l."x_UsageType"
    WHERE l."ChargeCategory" = 'Usage' AND CAST(l."ChargePeriodStart" AS DATE) BETWEEN $1 AND $2
      AND l."PricingCategory" IN ('Committed', 'Standard', 'On-Demand')
      AND (e."x_UsageType" IS NOT NULL OR l."x_UsageType" LIKE '%BoxUsage%' OR l."x_UsageType" LIKE '%InstanceUsage%')
),
daily AS (
    SELECT provider, "SubAccountId", "BillingCurrency", day,
           sum(CASE WHEN "PricingCategory" = 'Committed' THEN list_cost ELSE 0 END) AS covered_list,
           sum(CASE WHEN "PricingCategory" = 'Committed' THEN "EffectiveCost" ELSE 0 END) AS covered_effective,
           sum(CASE WHEN "PricingCategory" <> 'Committed' THEN "EffectiveCost" ELSE 0 END) AS on_demand
    FROM eligible
    GROUP BY 1, 2, 3, 4
)
SELECT provider, "SubAccountId", "BillingCurrency",
       CAST(sum(covered_list) AS DECIMAL(38, 20)) AS covered_list,
       CAST(sum(covered_effective) AS DECIMAL(38, 20)) AS covered_effective,
       CAST(sum(on_demand) AS DECIMAL(38, 20)) AS on_demand,
       CAST(min(on_demand) AS DECIMAL(38, 20)) AS min_daily_on_demand,
       count(*) AS days
FROM daily
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
