-- Who owns each resource's spend in the window ($1 .. $2), per team (a resource can be split).
SELECT "ResourceId", team, CAST(sum("EffectiveCost") AS DECIMAL(38, 20)) AS cost
FROM attributed
WHERE "ResourceId" IS NOT NULL AND "ResourceId" <> ''
  AND CAST("ChargePeriodStart" AS DATE) BETWEEN $1 AND $2
GROUP BY 1, 2
ORDER BY 1, 2
