-- Each team's month to the as-of date (amortized spend, EffectiveCost) in each currency it was
-- billed in, beside the same spend converted into the reporting currency, with the rates that
-- converted it: a team's page shows where its one number came from.
-- Reads `attributed` in the reporting currency (the view tally's reports read when the mappings
-- have a currency.toml: "BillingCurrency"/"EffectiveCost" converted, the billed values beside
-- them as "x_BillingCurrency"/"x_BillingEffectiveCost"); tally runs it only then.
-- Placeholders, replaced textually: {currency} (quoted text), {month_start} and {as_of}
-- (DATE literals), {first_period} and {last_period} (quoted YYYY-MM, bounds for pruning).
SELECT team,
       "x_BillingCurrency" AS billing_currency,
       sum("x_BillingEffectiveCost") AS billed,
       min("x_ExchangeRate") AS lowest_rate,
       max("x_ExchangeRate") AS highest_rate,
       sum("EffectiveCost") AS converted
FROM attributed
WHERE billing_period BETWEEN {first_period} AND {last_period}
  AND "BillingCurrency" = {currency}
  AND CAST("ChargePeriodStart" AS DATE) BETWEEN {month_start} AND {as_of}
GROUP BY team, "x_BillingCurrency"
ORDER BY team, "x_BillingCurrency"
