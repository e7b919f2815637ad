-- Who owns each account's usage spend in the window ($1 .. $2): the likely owner of what no rule owns.
SELECT coalesce("SubAccountId", '') AS "SubAccountId", team,
       CAST(sum("EffectiveCost") AS DECIMAL(38, 20)) AS cost
FROM attributed
WHERE team <> 'unallocated' AND "ChargeCategory" = 'Usage'
  AND CAST("ChargePeriodStart" AS DATE) BETWEEN $1 AND $2
GROUP BY 1, 2
ORDER BY 1, 2
