-- Daily usage spend per team and service: the series anomalies are looked for in.
-- Usage charges only, so one-off purchases, credits, refunds and tax never count as spikes.
SELECT team, provider, "ServiceName", "BillingCurrency",
       CAST("ChargePeriodStart" AS DATE) AS day,
       CAST(sum("EffectiveCost") AS DECIMAL(38, 20)) AS cost
FROM attributed
WHERE "ChargeCategory" = 'Usage' AND "ChargePeriodStart" IS NOT NULL AND team <> 'unallocated'
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, 4, 5
