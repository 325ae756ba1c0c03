-- What staging.streaming_history holds: plays by kind, first and last play.
SELECT
    (SELECT jsonb_object_agg(content_kind, n)
       FROM (SELECT content_kind, count(*) AS n
               FROM staging.streaming_history GROUP BY content_kind) AS k) AS by_kind,
    (SELECT min(ts) FROM staging.streaming_history) AS first_ts,
    (SELECT max(ts) FROM staging.streaming_history) AS last_ts;
