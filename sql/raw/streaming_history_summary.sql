-- What staging.streaming_history holds of some listeners: plays by kind, first and last play
-- (one scan).
SELECT jsonb_object_agg(content_kind, plays) AS by_kind, min(first_ts) AS first_ts, max(last_ts) AS last_ts
FROM (
    SELECT content_kind, count(*) AS plays, min(ts) AS first_ts, max(ts) AS last_ts
    FROM staging.streaming_history
    WHERE listener = ANY(%(listeners)s)
    GROUP BY content_kind
) AS kinds;
