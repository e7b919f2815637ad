-- Currencies of the attributed spend, most line items first. A report shows one
-- currency (the first, unless asked) and names the others it leaves out.
SELECT "BillingCurrency" AS currency,
       count(*) AS line_items,
       sum("EffectiveCost") AS effective_cost
FROM attributed
WHERE "BillingCurrency" IS NOT NULL
GROUP BY "BillingCurrency"
ORDER BY line_items DESC, currency
