-- Plays without an id, by what their name pair became (matched, pinned, not found, ambiguous,
-- forbidden) or pending: not decided yet.
SELECT coalesce(m.status, 'pending') AS status, count(DISTINCT s.name_key) AS pairs, count(*) AS plays
FROM staging.streaming_history AS s
LEFT JOIN etl_internal.name_matches AS m ON m.name_key = s.name_key
WHERE s.content_kind IN ('track', 'episode') AND s.spotify_track_uri IS NULL AND s.spotify_episode_uri IS NULL
  AND s.name_key IS NOT NULL
GROUP BY 1
ORDER BY plays DESC, status;
