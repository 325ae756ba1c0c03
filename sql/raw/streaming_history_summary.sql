-- What staging.streaming_history holds of some listeners: plays by kind (as migration 0019's
-- triggers keep them), first and last play (each listener's from the natural key's index).
SELECT (SELECT jsonb_object_agg(content_kind, plays)
        FROM (SELECT content_kind, sum(plays) AS plays FROM etl_internal.listener_kind_plays
              WHERE listener = ANY(%(listeners)s) GROUP BY content_kind) AS kinds) AS by_kind,
       min(span.first_ts) AS first_ts, max(span.last_ts) AS last_ts
FROM unnest(%(listeners)s::text[]) AS l(listener)
CROSS JOIN LATERAL (
    SELECT min(s.ts) AS first_ts, max(s.ts) AS last_ts
    FROM staging.streaming_history AS s WHERE s.listener = l.listener
) AS span;
