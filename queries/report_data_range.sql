-- How fresh a report is: the first and last charge day of attributed spend in
-- the report's currency, up to the as-of date.
SELECT min(CAST("ChargePeriodStart" AS DATE)) AS data_from,
       max(CAST("ChargePeriodStart" AS DATE)) AS data_to
FROM attributed
WHERE "BillingCurrency" = {currency}
  AND CAST("ChargePeriodStart" AS DATE) <= {as_of}
