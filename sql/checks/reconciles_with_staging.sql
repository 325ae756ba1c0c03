-- Months (UTC) where staging and the facts disagree, by kind. Music (track, local) goes to
-- fact_tracks_history, episodes to fact_podcasts_history; audiobook and unknown-content plays
-- are excluded on purpose and counted as such. Among the plays of [%(start)s, %(end)s).
WITH staged AS (
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
           CASE WHEN content_kind IN ('track', 'local') THEN 'music'
                WHEN content_kind = 'episode' THEN 'podcast' ELSE 'excluded' END AS kind,
           count(*) AS plays, coalesce(sum(ms_played), 0) AS ms
    FROM staging.streaming_history WHERE ts >= %(start)s AND ts < %(end)s GROUP BY 1, 2
), loaded AS (
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM') AS month, 'music' AS kind,
           count(*) AS plays, coalesce(sum(ms_played), 0) AS ms
    FROM core.fact_tracks_history WHERE ts >= %(start)s AND ts < %(end)s GROUP BY 1
    UNION ALL
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM'), 'podcast', count(*), coalesce(sum(ms_played), 0)
    FROM core.fact_podcasts_history WHERE ts >= %(start)s AND ts < %(end)s GROUP BY 1
)
SELECT coalesce(s.month, l.month) AS month, coalesce(s.kind, l.kind) AS kind,
       coalesce(s.plays, 0) AS staged_plays, coalesce(l.plays, 0) AS fact_plays,
       coalesce(s.ms, 0) AS staged_ms, coalesce(l.ms, 0) AS fact_ms
FROM staged AS s
FULL JOIN loaded AS l ON l.month = s.month AND l.kind = s.kind
WHERE coalesce(s.kind, l.kind) <> 'excluded'
  AND (coalesce(s.plays, 0) <> coalesce(l.plays, 0) OR coalesce(s.ms, 0) <> coalesce(l.ms, 0))
ORDER BY 1, 2;
