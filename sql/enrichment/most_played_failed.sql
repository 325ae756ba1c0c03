-- The failed URIs most played, with the names the export gives them.
SELECT f.uri, f.entity_type,
       coalesce(max(s.track_name), max(s.episode_name)) AS name,
       count(s.play_id) AS plays, f.reason, f.attempts
FROM etl_internal.failed_uris AS f
LEFT JOIN staging.streaming_history AS s
       ON s.spotify_track_uri = f.uri OR s.spotify_episode_uri = f.uri
GROUP BY f.uri, f.entity_type, f.reason, f.attempts
ORDER BY plays DESC, f.uri
LIMIT 20;
