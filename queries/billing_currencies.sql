-- Each team's amortized spend (EffectiveCost) in each currency it was billed in, this week and
-- month to date, beside the same spend converted into the reporting currency, with the rates
-- that converted it: where a team's one number came from.
--
-- Reads `attributed` in the reporting currency: the view tally's reports read when the
-- mappings have a currency.toml ("BillingCurrency"/"EffectiveCost" converted, the billed
-- values beside them as "x_BillingCurrency"/"x_BillingEffectiveCost"; tally runs it only
-- then). Over the raw files, read "x_ReportingEffectiveCost" for "EffectiveCost",
-- "BillingCurrency" for "x_BillingCurrency" and "EffectiveCost" for "x_BillingEffectiveCost".
--
-- Placeholders, replaced textually before running (bare text inside quotes, so the file runs
-- as-is in DataFusion, DuckDB, Trino or Spark once substituted):
--   {currency}      the reporting currency (letters only)
--   {as_of}         the as-of date, YYYY-MM-DD; the week is the 7 charge days ending on it
--   {from}          the earlier of the week's first day (as_of - 6) and the month's first day
--   {month_start}   the first day of the as-of date's month
--   {since_period}  the YYYY-MM of {from}: a lower bound on billing_period for pruning
-- Rust: tally::queries::billing_currencies fills them.
-- Order: team, billing currency.
SELECT team,
       "x_BillingCurrency" AS billing_currency,
       sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) > CAST(DATE '{as_of}' - INTERVAL '7' DAY AS DATE)
                THEN "x_BillingEffectiveCost" ELSE 0 END) AS billed_week,
       sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) > CAST(DATE '{as_of}' - INTERVAL '7' DAY AS DATE)
                THEN "EffectiveCost" ELSE 0 END) AS converted_week,
       sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) >= DATE '{month_start}'
                THEN "x_BillingEffectiveCost" ELSE 0 END) AS billed_month,
       sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) >= DATE '{month_start}'
                THEN "EffectiveCost" ELSE 0 END) AS converted_month,
       min("x_ExchangeRate") AS lowest_rate,
       max("x_ExchangeRate") AS highest_rate
FROM attributed
WHERE billing_period >= '{since_period}'
  AND "BillingCurrency" = '{currency}'
  AND CAST("ChargePeriodStart" AS DATE) >= DATE '{from}'
  AND CAST("ChargePeriodStart" AS DATE) <= DATE '{as_of}'
GROUP BY team, "x_BillingCurrency"
ORDER BY team, billing_currency
