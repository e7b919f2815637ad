-- The resources behind an anomaly: each resource's usage spend of one team and service
-- during the anomaly ($4 .. $5) and in the baseline before it ($3 .. $4, exclusive).
-- $1 team, $2 ServiceName.
SELECT coalesce("ResourceId", '') AS resource, coalesce("SubAccountId", '') AS "SubAccountId",
       CAST(sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) >= $4 THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS during,
       CAST(sum(CASE WHEN CAST("ChargePeriodStart" AS DATE) < $4 THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS before
FROM attributed
WHERE team = $1 AND "ServiceName" = $2 AND "ChargeCategory" = 'Usage'
  AND CAST("ChargePeriodStart" AS DATE) >= $3 AND CAST("ChargePeriodStart" AS DATE) <= $5
GROUP BY 1, 2
ORDER BY 1, 2
