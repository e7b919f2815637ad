-- The attributed data's first day of usage: no finding's window starts before it.
-- (Findings are "as of" the data's last charge day, the day every step of a run shares.)
SELECT CAST(min("ChargePeriodStart") AS DATE) AS first_day
FROM attributed
WHERE "ChargeCategory" = 'Usage'
