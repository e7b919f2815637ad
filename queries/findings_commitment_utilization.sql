-- Commitment utilization per Reserved Instance / Savings Plan in billing period $1: the
-- effective cost of the usage it covered (CommitmentDiscountStatus Used) and its unused part
-- (FOCUS: status Unused; AWS CUR: the unused cost of RIFee and Savings Plan recurring fee lines).
SELECT provider, "CommitmentDiscountId", min("CommitmentDiscountType") AS commitment_type,
       min(CASE WHEN "ChargeCategory" = 'Purchase' THEN "SubAccountId" END) AS "SubAccountId",
       min("ServiceName") AS "ServiceName", min("BillingCurrency") AS "BillingCurrency",
       CAST(sum(CASE WHEN "CommitmentDiscountStatus" = 'Used' THEN "EffectiveCost" ELSE 0 END) AS DECIMAL(38, 20)) AS used,
       CAST(sum(CASE WHEN "CommitmentDiscountStatus" = 'Unused'
                       OR "x_LineItemType" IN ('RIFee', 'SavingsPlanRecurringFee') THEN "EffectiveCost" ELSE 0 END)
            AS DECIMAL(38, 20)) AS unused
FROM line_items
WHERE billing_period = $1 AND "CommitmentDiscountId" IS NOT NULL AND "CommitmentDiscountId" <> ''
GROUP BY 1, 2
ORDER BY 1, 2
