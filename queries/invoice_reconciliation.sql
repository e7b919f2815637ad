-- Reconciliation to the invoice: per invoice of the FOCUS Invoice Detail
-- dataset, its BilledCost against the BilledCost of the line items that
-- name it (FOCUS joins the two on InvoiceIssuerName and InvoiceId, and
-- says one side must be aggregated first). `difference` is line items
-- minus invoice; `status` is 'ok' when they agree exactly, 'mismatch'
-- otherwise, 'no line items' when no line item names the invoice.
WITH invoices AS (
    SELECT "InvoiceIssuerName" AS invoice_issuer,
           "InvoiceId" AS invoice_id,
           "BillingCurrency" AS currency,
           min(billing_period) AS billing_period,
           count(*) AS invoice_details,
           sum("BilledCost") AS invoice_billed
    FROM invoice_details
    GROUP BY "InvoiceIssuerName", "InvoiceId", "BillingCurrency"
),
billed AS (
    SELECT "InvoiceIssuerName" AS invoice_issuer,
           "InvoiceId" AS invoice_id,
           "BillingCurrency" AS currency,
           count(*) AS line_items,
           sum("BilledCost") AS line_items_billed
    FROM line_items
    WHERE "InvoiceId" IS NOT NULL
    GROUP BY "InvoiceIssuerName", "InvoiceId", "BillingCurrency"
)
SELECT i.invoice_issuer,
       i.invoice_id,
       i.currency,
       i.billing_period,
       i.invoice_details,
       i.invoice_billed,
       coalesce(b.line_items, 0) AS line_items,
       coalesce(b.line_items_billed, 0) AS line_items_billed,
       coalesce(b.line_items_billed, 0) - i.invoice_billed AS difference,
       CASE
           WHEN b.line_items IS NULL THEN 'no line items'
           WHEN b.line_items_billed = i.invoice_billed THEN 'ok'
           ELSE 'mismatch'
       END AS status
FROM invoices i
LEFT JOIN billed b
    ON b.invoice_issuer = i.invoice_issuer AND b.invoice_id = i.invoice_id AND b.currency = i.currency
ORDER BY i.billing_period, i.invoice_issuer, i.invoice_id, i.currency
