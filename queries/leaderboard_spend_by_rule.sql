-- Each team's directly owned spend month to date per ownership rule: the share
-- owned through rules on tags is the team's tag coverage (allocation hygiene).
SELECT team,
       rule_id,
       sum("EffectiveCost") AS cost
FROM attributed
WHERE method = 'direct' AND "BillingCurrency" = {currency}
  AND CAST("ChargePeriodStart" AS DATE) BETWEEN {month_start} AND {as_of}
GROUP BY team, rule_id
ORDER BY team, rule_id
