-- Name pairs (plays without an id) no Spotify item was chosen for — not found, ambiguous,
-- placeholder names, forbidden by the override file — most played first, with the reason.
SELECT m.kind,
       split_part(substr(m.name_key, strpos(m.name_key, ':') + 1), E'\x1f', 1) AS owner,
       split_part(substr(m.name_key, strpos(m.name_key, ':') + 1), E'\x1f', 2) AS name,
       m.status, m.rule AS reason, count(s.play_id) AS plays
FROM etl_internal.name_matches AS m
LEFT JOIN staging.streaming_history AS s
       ON s.name_key = m.name_key AND s.content_kind IN ('track', 'episode')
      AND s.spotify_track_uri IS NULL AND s.spotify_episode_uri IS NULL
WHERE m.spotify_uri IS NULL
GROUP BY m.name_key, m.kind, m.status, m.rule
ORDER BY plays DESC, m.name_key;
