-- Episodes as the export names them, keyed by URI (or names when there is none).
INSERT INTO core.dim_episode (episode_key, spotify_episode_uri, episode_name, podcast_id)
SELECT DISTINCT ON (s.content_key)
       s.content_key,
       s.spotify_episode_uri,
       coalesce(s.episode_name, s.spotify_episode_uri, 'Unnamed episode'),
       coalesce(p.podcast_id, 0)
FROM staging.streaming_history AS s
LEFT JOIN core.dim_podcast AS p ON p.podcast_key = 'name:' || s.show_name
WHERE s.content_kind = 'episode'
ORDER BY s.content_key, s.ts DESC
ON CONFLICT (episode_key) DO NOTHING;


-- What the API says of each fetched episode, in place (its show: the URI-keyed member).
UPDATE core.dim_episode AS d
SET episode_name = coalesce(c.raw_data ->> 'name', d.episode_name),
    podcast_id = coalesce(p.podcast_id, d.podcast_id),
    duration_ms = (c.raw_data ->> 'duration_ms')::integer,
    release_date = CASE WHEN c.raw_data ->> 'release_date' ~ '^\d{4}-\d{2}-\d{2}$'
                         AND c.raw_data ->> 'release_date' !~ '^0000'
                        THEN etl_internal.try_date(c.raw_data ->> 'release_date') END,
    languages = ARRAY(SELECT jsonb_array_elements_text(coalesce(c.raw_data -> 'languages', '[]'))),
    enriched_at = c.fetched_at
FROM staging.spotify_episode_data AS c
LEFT JOIN core.dim_podcast AS p ON p.spotify_podcast_uri = c.raw_data -> 'show' ->> 'uri'
WHERE d.spotify_episode_uri = c.spotify_episode_uri
  AND d.enriched_at IS DISTINCT FROM c.fetched_at;


UPDATE staging.spotify_episode_data SET is_processed = true WHERE NOT is_processed;

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_episode;
