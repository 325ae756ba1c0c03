-- Episode URIs to fetch, most played first (see pending_tracks.sql), with the episodes chosen
-- for a name pair.
SELECT wanted.uri
FROM (
    SELECT s.spotify_episode_uri AS uri, count(*) AS plays
    FROM staging.streaming_history AS s
    WHERE s.content_kind = 'episode' AND s.spotify_episode_uri IS NOT NULL
    GROUP BY s.spotify_episode_uri
    UNION ALL
    SELECT m.spotify_uri, 0
    FROM etl_internal.name_matches AS m
    WHERE m.kind = 'episode' AND m.spotify_uri IS NOT NULL
) AS wanted
LEFT JOIN staging.spotify_episode_data AS c ON c.spotify_episode_uri = wanted.uri
LEFT JOIN etl_internal.failed_uris AS f ON f.uri = wanted.uri
WHERE c.spotify_episode_uri IS NULL
  AND (f.uri IS NULL OR (NOT f.permanent AND f.next_attempt_at <= now()))
GROUP BY wanted.uri
ORDER BY sum(wanted.plays) DESC, wanted.uri;
