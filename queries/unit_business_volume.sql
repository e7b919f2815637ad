-- Business volume per day, metric and team (empty team: company-wide), from the
-- metrics file given with --metrics.
SELECT date AS day,
       metric,
       coalesce(team, '') AS team,
       sum(value) AS value
FROM business_metrics
WHERE date BETWEEN {from} AND {as_of}
GROUP BY date, metric, coalesce(team, '')
ORDER BY day, metric, team
