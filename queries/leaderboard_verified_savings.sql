-- Savings the efficiency findings measured and verified, per team and month,
-- up to the as-of month (findings table, kind realized_savings).
SELECT team,
       billing_period,
       count(*) AS initiatives,
       sum(monthly_savings) AS monthly_savings
FROM findings
WHERE kind = 'realized_savings' AND status = 'verified'
  AND currency = {currency} AND billing_period <= {month}
GROUP BY team, billing_period
ORDER BY billing_period, team
