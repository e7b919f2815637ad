-- Daily business volume of metric $1 (business_metrics, loaded from --metrics), per team
-- (empty when the row names no team).
SELECT date AS day, coalesce(team, '') AS team, CAST(sum(value) AS DECIMAL(38, 20)) AS volume
FROM business_metrics
WHERE metric = $1
GROUP BY 1, 2
ORDER BY 1, 2
