-- Artists named by the export (album artists), keyed by name until enrichment gives URIs.
INSERT INTO core.dim_artist (artist_key, artist_name)
SELECT DISTINCT 'name:' || artist_name, artist_name
FROM staging.streaming_history
WHERE content_kind IN ('track', 'local') AND artist_name IS NOT NULL
ON CONFLICT (artist_key) DO NOTHING;


-- Artists the API knows (every artist credited on a fetched track), keyed by URI.
INSERT INTO core.dim_artist (artist_key, spotify_artist_uri, artist_name)
SELECT DISTINCT ON (a.artist ->> 'uri') a.artist ->> 'uri', a.artist ->> 'uri', a.artist ->> 'name'
FROM staging.spotify_track_data AS t
CROSS JOIN LATERAL jsonb_array_elements(t.raw_data -> 'artists') AS a(artist)
WHERE a.artist ->> 'uri' IS NOT NULL AND a.artist ->> 'name' IS NOT NULL
ORDER BY a.artist ->> 'uri'
ON CONFLICT DO NOTHING;

-- Their details, where fetched: name, genres (deprecated by Spotify: often empty), image.
UPDATE core.dim_artist AS d
SET artist_name = coalesce(c.raw_data ->> 'name', d.artist_name),
    genres = ARRAY(SELECT jsonb_array_elements_text(coalesce(c.raw_data -> 'genres', '[]'))),
    image_url = c.raw_data -> 'images' -> 0 ->> 'url',
    enriched_at = c.fetched_at
FROM staging.spotify_artist_data AS c
WHERE d.spotify_artist_uri = c.spotify_artist_uri
  AND d.enriched_at IS DISTINCT FROM c.fetched_at;


UPDATE staging.spotify_artist_data SET is_processed = true WHERE NOT is_processed;

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_artist;
