-- Per billing month and currency: line items, accounts, billed and amortized cost, and the
-- amortized cost of resources without any of the team tag spellings.
SELECT billing_period,
       "BillingCurrency" AS currency,
       count(*) AS line_items,
       count(DISTINCT "SubAccountId") AS accounts,
       sum("BilledCost") AS billed_cost,
       sum("EffectiveCost") AS effective_cost,
       sum(CASE WHEN "Tags"['team'] IS NULL AND "Tags"['Team'] IS NULL AND "Tags"['owner-team'] IS NULL
                THEN "EffectiveCost" ELSE 0 END) AS untagged_cost
FROM line_items
GROUP BY billing_period, "BillingCurrency"
ORDER BY billing_period, currency;
