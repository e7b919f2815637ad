-- Why spend was unallocated this week (the 7 days ending on the as-of date) and
-- the week before, largest first: fixing the top reasons raises coverage.
SELECT coalesce(unallocated_reason, '(no reason recorded)') AS reason,
       count(*) AS line_items,
       sum(CASE WHEN day BETWEEN {week_start} AND {as_of} THEN cost ELSE 0 END) AS this_week,
       sum(CASE WHEN day BETWEEN {prior_week_start} AND {prior_week_end} THEN cost ELSE 0 END) AS prior_week
FROM (
    SELECT unallocated_reason, CAST("ChargePeriodStart" AS DATE) AS day, "EffectiveCost" AS cost
    FROM attributed
    WHERE method = 'unallocated' AND "BillingCurrency" = {currency}
      AND billing_period BETWEEN {first_period} AND {last_period}
) charges
WHERE day BETWEEN {prior_week_start} AND {as_of}
GROUP BY coalesce(unallocated_reason, '(no reason recorded)')
ORDER BY this_week DESC, reason
