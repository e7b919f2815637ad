-- A team's daily usage spend from $2 to $3, per service and account: an initiative's scope
-- (services, accounts) is applied to these rows. $1 team.
SELECT CAST("ChargePeriodStart" AS DATE) AS day, coalesce("ServiceName", '') AS "ServiceName",
       coalesce("SubAccountId", '') AS "SubAccountId", min("BillingCurrency") AS "BillingCurrency",
       CAST(sum("EffectiveCost") AS DECIMAL(38, 20)) AS cost
FROM attributed
WHERE team = $1 AND "ChargeCategory" = 'Usage'
  AND CAST("ChargePeriodStart" AS DATE) BETWEEN $2 AND $3
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
