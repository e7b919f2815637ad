-- Each team's directly owned spend per ownership rule, month to date and over the
-- same days of the month before: the share owned through rules on tags is the
-- team's tag coverage (allocation hygiene).
SELECT team,
       rule_id,
       sum(CASE WHEN day BETWEEN {month_start} AND {as_of} THEN cost ELSE 0 END) AS month_to_date,
       sum(CASE WHEN day BETWEEN {prior_month_start} AND {prior_month_end} THEN cost ELSE 0 END) AS prior_month_to_date
FROM (
    SELECT team, rule_id, CAST("ChargePeriodStart" AS DATE) AS day, "EffectiveCost" AS cost
    FROM attributed
    WHERE method = 'direct' AND "BillingCurrency" = {currency}
      AND billing_period BETWEEN {first_period} AND {last_period}
) charges
WHERE day BETWEEN {prior_month_start} AND {as_of}
GROUP BY team, rule_id
ORDER BY team, rule_id
