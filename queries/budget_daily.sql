-- Daily spend per team, currency and charge series (category and service) in the
-- given billing periods: what budget status and forecasts add up. `{periods}` is
-- replaced by a list of quoted YYYY-MM values.
SELECT billing_period,
       team,
       CAST("ChargePeriodStart" AS DATE) AS day,
       "BillingCurrency" AS currency,
       coalesce("ChargeCategory", '') AS category,
       coalesce("x_ServiceCode", "ServiceName", '') AS service,
       sum("BilledCost") AS billed,
       sum("EffectiveCost") AS effective
FROM attributed
WHERE billing_period IN ({periods}) AND "ChargePeriodStart" IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY 1, 2, 3, 4, 5, 6
