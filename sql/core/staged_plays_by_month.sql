-- The UTC months of [%(start)s, %(end)s) holding staged plays (each gets a partition of both
-- facts, as core.prepare_fact_months makes them), with the plays of each fact's kinds (those
-- sql/core/fact_tracks_history.sql and fact_podcasts_history.sql select).
SELECT date_trunc('month', ts, 'UTC') AS month,
       count(*) FILTER (WHERE content_kind IN ('track', 'local')) AS music,
       count(*) FILTER (WHERE content_kind = 'episode') AS podcast
FROM staging.streaming_history
WHERE ts >= %(start)s AND ts < %(end)s
GROUP BY 1
ORDER BY 1;
