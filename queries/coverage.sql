-- Attribution coverage per billing month and currency: how much of the amortized
-- cost is owned directly by a rule, split from a shared pool, or unallocated.
SELECT billing_period,
       "BillingCurrency" AS currency,
       sum("BilledCost") AS billed_cost,
       sum("EffectiveCost") AS effective_cost,
       sum(CASE WHEN method = 'direct' THEN "EffectiveCost" ELSE 0 END) AS direct,
       sum(CASE WHEN method = 'shared' THEN "EffectiveCost" ELSE 0 END) AS shared,
       sum(CASE WHEN method = 'unallocated' THEN "EffectiveCost" ELSE 0 END) AS unallocated,
       round(100 * CAST(sum(CASE WHEN method = 'unallocated' THEN "EffectiveCost" ELSE 0 END) AS DOUBLE)
             / nullif(CAST(sum("EffectiveCost") AS DOUBLE), 0), 1) AS unallocated_pct
FROM attributed
GROUP BY billing_period, "BillingCurrency"
ORDER BY billing_period, currency
