-- Track URIs to fetch, most played first: not cached, not failed for good, not waiting to be
-- retried. Local files (spotify:local:) are not tracks and never appear here.
SELECT s.spotify_track_uri
FROM staging.streaming_history AS s
LEFT JOIN staging.spotify_track_data AS c ON c.spotify_track_uri = s.spotify_track_uri
LEFT JOIN etl_internal.failed_uris AS f ON f.uri = s.spotify_track_uri
WHERE s.content_kind = 'track' AND s.spotify_track_uri IS NOT NULL
  AND c.spotify_track_uri IS NULL
  AND (f.uri IS NULL OR (NOT f.permanent AND f.next_attempt_at <= now()))
GROUP BY s.spotify_track_uri
ORDER BY count(*) DESC, s.spotify_track_uri;
