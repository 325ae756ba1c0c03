-- Shows named by the export, keyed by name until enrichment gives their URIs.
INSERT INTO core.dim_podcast (podcast_key, podcast_name)
SELECT DISTINCT 'name:' || show_name, show_name
FROM new_plays
WHERE content_kind = 'episode' AND show_name IS NOT NULL
-- Ids are drawn in this order: the same plays give the same ids, whatever the plan.
ORDER BY 1
ON CONFLICT (podcast_key) DO NOTHING;


-- Shows the API knows (from fetched episodes, then their own responses), keyed by URI.
INSERT INTO core.dim_podcast (podcast_key, spotify_podcast_uri, podcast_name)
-- Values are read through the etl_internal.json_* functions (see dim_artist.sql).
SELECT DISTINCT ON (show.uri) show.uri, show.uri, show.name
FROM staging.spotify_episode_data AS e
CROSS JOIN LATERAL (SELECT etl_internal.json_text(e.raw_data -> 'show' -> 'uri') AS uri,
                           etl_internal.json_text(e.raw_data -> 'show' -> 'name') AS name) AS show
WHERE show.uri IS NOT NULL AND show.name IS NOT NULL
ORDER BY show.uri
ON CONFLICT DO NOTHING;

UPDATE core.dim_podcast AS d
SET podcast_name = coalesce(etl_internal.json_text(c.raw_data -> 'name'), d.podcast_name),
    description = etl_internal.json_text(c.raw_data -> 'description'),
    image_url = etl_internal.json_text(c.raw_data -> 'images' -> 0 -> 'url'),
    total_episodes = etl_internal.json_int(c.raw_data -> 'total_episodes'),
    enriched_at = c.fetched_at
FROM staging.spotify_podcast_data AS c
WHERE d.spotify_podcast_uri = c.spotify_podcast_uri
  AND d.enriched_at IS DISTINCT FROM c.fetched_at;


UPDATE staging.spotify_podcast_data SET is_processed = true WHERE NOT is_processed;

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_podcast;
