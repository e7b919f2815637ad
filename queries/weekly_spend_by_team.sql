-- Amortized spend per team in four windows ending on the as-of date: this week
-- (the 7 days ending on it), the week before, month to date, and the same days
-- of the month before. Per org path on the charge date (as-was) and today
-- (as-is), and per allocation method (direct, shared, unallocated).
SELECT team,
       org_path,
       org_path_current,
       method,
       sum(CASE WHEN day BETWEEN {week_start} AND {as_of} THEN cost ELSE 0 END) AS this_week,
       sum(CASE WHEN day BETWEEN {prior_week_start} AND {prior_week_end} THEN cost ELSE 0 END) AS prior_week,
       sum(CASE WHEN day BETWEEN {month_start} AND {as_of} THEN cost ELSE 0 END) AS month_to_date,
       sum(CASE WHEN day BETWEEN {prior_month_start} AND {prior_month_end} THEN cost ELSE 0 END) AS prior_month_to_date
FROM (
    SELECT team, org_path, org_path_current, method,
           CAST("ChargePeriodStart" AS DATE) AS day,
           "EffectiveCost" AS cost
    FROM attributed
    WHERE "BillingCurrency" = {currency}
      AND billing_period BETWEEN {first_period} AND {last_period}
) charges
WHERE day BETWEEN {from} AND {as_of}
GROUP BY team, org_path, org_path_current, method
ORDER BY team, org_path, org_path_current, method
