-- Findings a nudge can tell a team (recommendations and verified wins), from the
-- `findings` table (contract in src/findings/mod.rs), measured in or before the as-of
-- month. A finding measured in several months appears once per month; tally keeps the
-- latest. Placeholder, replaced textually: {period} the as-of month (YYYY-MM).
SELECT finding_id, kind, billing_period, team, title, currency,
       monthly_savings, effort_dev_days, status
FROM findings
WHERE team IS NOT NULL AND finding_id IS NOT NULL AND billing_period <= '{period}'
ORDER BY finding_id, billing_period
