-- Name pairs to resolve, most played first: plays with names and no id, for which nothing is
-- decided yet or whose override was taken back, not waiting for a retry of a failed search;
-- with each pair's longest play (a full play tells a track's length).
SELECT s.name_key, count(*) AS plays, max(s.ms_played) AS longest_ms
FROM staging.streaming_history AS s
LEFT JOIN etl_internal.name_matches AS m ON m.name_key = s.name_key
LEFT JOIN etl_internal.failed_uris AS f ON f.uri = s.name_key
WHERE s.content_kind IN ('track', 'episode') AND s.spotify_track_uri IS NULL AND s.spotify_episode_uri IS NULL
  AND s.name_key IS NOT NULL
  AND (m.name_key IS NULL OR m.rule = %(taken_back)s)
  AND (f.uri IS NULL OR (NOT f.permanent AND f.next_attempt_at <= now()))
GROUP BY s.name_key
ORDER BY count(*) DESC, s.name_key;
