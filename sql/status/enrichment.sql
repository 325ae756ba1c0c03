-- Enrichment coverage: distinct ids played, fetched, failed, pending; when the API may be asked again.
WITH wanted AS (
    SELECT 'tracks' AS entity, count(DISTINCT spotify_track_uri) AS played,
           (SELECT count(*) FROM staging.spotify_track_data) AS fetched,
           (SELECT count(*) FROM etl_internal.failed_uris WHERE entity_type = 'track') AS failed
    FROM staging.streaming_history WHERE content_kind = 'track'
    UNION ALL
    SELECT 'episodes', count(DISTINCT spotify_episode_uri),
           (SELECT count(*) FROM staging.spotify_episode_data),
           (SELECT count(*) FROM etl_internal.failed_uris WHERE entity_type = 'episode')
    FROM staging.streaming_history WHERE content_kind = 'episode'
)
SELECT entity, played, fetched, failed, greatest(played - fetched - failed, 0) AS pending,
       CASE WHEN played > 0 THEN round(100.0 * fetched / played, 1) END AS coverage_pct,
       (SELECT resume_at FROM etl_internal.api_resume_state WHERE api = 'spotify') AS resume_at
FROM wanted;
