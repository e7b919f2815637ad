-- Why spend is unallocated, largest first: fix the top reasons to raise coverage.
SELECT billing_period,
       "BillingCurrency" AS currency,
       unallocated_reason AS reason,
       count(*) AS line_items,
       sum("EffectiveCost") AS effective_cost
FROM attributed
WHERE method = 'unallocated'
GROUP BY billing_period, "BillingCurrency", unallocated_reason
ORDER BY billing_period, currency, effective_cost DESC, reason
