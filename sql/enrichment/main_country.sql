-- The most frequent conn_country of all plays: the market for episode and show lookups.
SELECT conn_country FROM staging.streaming_history
WHERE conn_country IS NOT NULL
GROUP BY conn_country ORDER BY count(*) DESC, conn_country LIMIT 1;
