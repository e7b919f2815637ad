-- The attributed data's first and last day of usage: the last is the "as of" of every finding.
SELECT CAST(min("ChargePeriodStart") AS DATE) AS first_day,
       CAST(max("ChargePeriodStart") AS DATE) AS last_day
FROM attributed
WHERE "ChargeCategory" = 'Usage'
