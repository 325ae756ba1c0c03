-- Show URIs named by fetched episodes, to fetch; weighted by the plays of their episodes.
WITH episode_plays AS (
    SELECT spotify_episode_uri, count(*) AS plays
    FROM staging.streaming_history WHERE content_kind = 'episode' GROUP BY 1
), shows AS (
    SELECT etl_internal.json_text(e.raw_data -> 'show' -> 'uri') AS uri, sum(coalesce(p.plays, 0)) AS plays
    FROM staging.spotify_episode_data AS e
    LEFT JOIN episode_plays AS p ON p.spotify_episode_uri = e.spotify_episode_uri
    WHERE etl_internal.json_text(e.raw_data -> 'show' -> 'uri') IS NOT NULL
    GROUP BY 1
)
SELECT shows.uri
FROM shows
LEFT JOIN staging.spotify_podcast_data AS c ON c.spotify_podcast_uri = shows.uri
LEFT JOIN etl_internal.failed_uris AS f ON f.uri = shows.uri
WHERE c.spotify_podcast_uri IS NULL
  AND (f.uri IS NULL OR (NOT f.permanent AND f.next_attempt_at <= now()))
ORDER BY shows.plays DESC, shows.uri;
