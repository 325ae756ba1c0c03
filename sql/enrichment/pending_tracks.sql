-- Track URIs to fetch, most played first: not cached, not failed for good, not waiting to be
-- retried. Local files (spotify:local:) are not tracks and never appear here. Tracks chosen
-- for a name pair (etl_internal.name_matches) count their pair's plays; one chosen by search
-- is cached from the search answer already, a pinned one is fetched here.
SELECT wanted.uri
FROM (
    SELECT s.spotify_track_uri AS uri, count(*) AS plays
    FROM staging.streaming_history AS s
    WHERE s.content_kind = 'track' AND s.spotify_track_uri IS NOT NULL
    GROUP BY s.spotify_track_uri
    UNION ALL
    SELECT m.spotify_uri, 0
    FROM etl_internal.name_matches AS m
    WHERE m.kind = 'track' AND m.spotify_uri IS NOT NULL
) AS wanted
LEFT JOIN staging.spotify_track_data AS c ON c.spotify_track_uri = wanted.uri
LEFT JOIN etl_internal.failed_uris AS f ON f.uri = wanted.uri
WHERE c.spotify_track_uri IS NULL
  AND (f.uri IS NULL OR (NOT f.permanent AND f.next_attempt_at <= now()))
GROUP BY wanted.uri
ORDER BY sum(wanted.plays) DESC, wanted.uri;
