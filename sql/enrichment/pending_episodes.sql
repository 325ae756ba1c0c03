-- Episode URIs to fetch, most played first (see pending_tracks.sql).
SELECT s.spotify_episode_uri
FROM staging.streaming_history AS s
LEFT JOIN staging.spotify_episode_data AS c ON c.spotify_episode_uri = s.spotify_episode_uri
LEFT JOIN etl_internal.failed_uris AS f ON f.uri = s.spotify_episode_uri
WHERE s.content_kind = 'episode' AND s.spotify_episode_uri IS NOT NULL
  AND c.spotify_episode_uri IS NULL
  AND (f.uri IS NULL OR (NOT f.permanent AND f.next_attempt_at <= now()))
GROUP BY s.spotify_episode_uri
ORDER BY count(*) DESC, s.spotify_episode_uri;
