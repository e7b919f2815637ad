-- When billing data last landed in the lake (the newest committed ingest run).
SELECT max(ingested_at) AS last_ingest
FROM ingests
WHERE status = 'committed'
