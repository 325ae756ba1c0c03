-- What staging.streaming_history holds of some listeners: plays by kind, first and last play.
WITH plays AS (
    SELECT content_kind, ts
    FROM staging.streaming_history
    WHERE source_file_id IN (
        SELECT source_file_id FROM etl_internal.source_files WHERE listener = ANY(%(listeners)s)
    )
)
SELECT
    (SELECT jsonb_object_agg(content_kind, n)
       FROM (SELECT content_kind, count(*) AS n FROM plays GROUP BY content_kind) AS k) AS by_kind,
    (SELECT min(ts) FROM plays) AS first_ts,
    (SELECT max(ts) FROM plays) AS last_ts;
