-- Attribution coverage per billing month and currency: how much of the amortized
-- cost is owned directly by a rule, split from a shared pool, or unallocated.
-- Summed per method first, then pivoted: one CASE per method over a handful of
-- rows instead of over every attributed row.
WITH by_method AS (
  SELECT billing_period, "BillingCurrency" AS currency, method,
         sum("BilledCost") AS billed, sum("EffectiveCost") AS effective
  FROM attributed
  GROUP BY billing_period, "BillingCurrency", method
)
SELECT billing_period,
       currency,
       sum(billed) AS billed_cost,
       sum(effective) AS effective_cost,
       sum(CASE WHEN method = 'direct' THEN effective ELSE 0 END) AS direct,
       sum(CASE WHEN method = 'shared' THEN effective ELSE 0 END) AS shared,
       sum(CASE WHEN method = 'unallocated' THEN effective ELSE 0 END) AS unallocated,
       round(100 * CAST(sum(CASE WHEN method = 'unallocated' THEN effective ELSE 0 END) AS DOUBLE)
             / nullif(CAST(sum(effective) AS DOUBLE), 0), 1) AS unallocated_pct
FROM by_method
GROUP BY billing_period, currency
ORDER BY billing_period, currency
