-- Artists named by the export (album artists), keyed by name until enrichment gives URIs.
INSERT INTO core.dim_artist (artist_key, artist_name)
SELECT DISTINCT 'name:' || artist_name, artist_name
FROM new_plays
WHERE content_kind IN ('track', 'local') AND artist_name IS NOT NULL
-- Ids are drawn in this order: the same plays give the same ids, whatever the plan.
ORDER BY 1
ON CONFLICT (artist_key) DO NOTHING;


-- Artists the API knows (every artist credited on a fetched track), keyed by URI. Every
-- value is read through the etl_internal.json_* functions: a response of any shape is read,
-- what cannot be used is NULL (and listed by etl_internal.api_value_issues).
INSERT INTO core.dim_artist (artist_key, spotify_artist_uri, artist_name)
SELECT DISTINCT ON (credit.uri) credit.uri, credit.uri, credit.name
FROM staging.spotify_track_data AS t
CROSS JOIN LATERAL jsonb_array_elements(etl_internal.json_array(t.raw_data -> 'artists')) AS a(artist)
CROSS JOIN LATERAL (SELECT etl_internal.json_text(a.artist -> 'uri') AS uri,
                           etl_internal.json_text(a.artist -> 'name') AS name) AS credit
WHERE credit.uri IS NOT NULL AND credit.name IS NOT NULL
ORDER BY credit.uri
ON CONFLICT DO NOTHING;

-- Their details, where fetched: name, genres (deprecated by Spotify: often empty; NULL when
-- the answer has none at all), image.
UPDATE core.dim_artist AS d
SET artist_name = coalesce(etl_internal.json_text(c.raw_data -> 'name'), d.artist_name),
    genres = etl_internal.json_text_array(c.raw_data -> 'genres'),
    image_url = etl_internal.json_text(c.raw_data -> 'images' -> 0 -> 'url'),
    enriched_at = c.fetched_at
FROM staging.spotify_artist_data AS c
WHERE d.spotify_artist_uri = c.spotify_artist_uri
  AND d.enriched_at IS DISTINCT FROM c.fetched_at;


UPDATE staging.spotify_artist_data SET is_processed = true WHERE NOT is_processed;

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_artist;
