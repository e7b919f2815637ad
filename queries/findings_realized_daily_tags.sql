-- findings_realized_daily.sql for an initiative scoped by tags: a team's daily usage spend from
-- $2 to $3, per service, account and the line's tags (from line_items, joined on the source file
-- and row; keys, then values, each joined by chr(31), the two by chr(30)). The scope is applied
-- to these rows the way rules match tags (key aliases of rules.toml, values in any case). $1 team.
WITH tags AS (
    SELECT "x_SourceFile", "x_SourceRow",
           min(coalesce(array_to_string(map_keys("Tags"), chr(31)), '') || chr(30)
               || coalesce(array_to_string(map_values("Tags"), chr(31)), '')) AS tags
    FROM line_items
    WHERE CAST("ChargePeriodStart" AS DATE) BETWEEN $2 AND $3
    GROUP BY 1, 2
)
SELECT CAST(a."ChargePeriodStart" AS DATE) AS day, coalesce(a."ServiceName", '') AS "ServiceName",
       coalesce(a."SubAccountId", '') AS "SubAccountId", coalesce(t.tags, '') AS tags,
       min(a."BillingCurrency") AS "BillingCurrency",
       CAST(sum(a."EffectiveCost") AS DECIMAL(38, 20)) AS cost
FROM attributed a
LEFT JOIN tags t ON t."x_SourceFile" = a."x_SourceFile" AND t."x_SourceRow" = a."x_SourceRow"
WHERE a.team = $1 AND a."ChargeCategory" = 'Usage'
  AND CAST(a."ChargePeriodStart" AS DATE) BETWEEN $2 AND $3
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
