-- Commitment coverage per charge month: the share of usage cost (amortized) run
-- on commitments (savings plans, reservations, committed use).
SELECT CAST(date_trunc('month', "ChargePeriodStart") AS DATE) AS month,
       sum("EffectiveCost") AS usage_cost,
       sum(CASE WHEN "PricingCategory" = 'Committed' THEN "EffectiveCost" ELSE 0 END) AS committed_cost
FROM line_items
WHERE "ChargeCategory" = 'Usage' AND "BillingCurrency" = {currency}
  AND CAST("ChargePeriodStart" AS DATE) BETWEEN {from} AND {as_of}
GROUP BY CAST(date_trunc('month', "ChargePeriodStart") AS DATE)
ORDER BY month
