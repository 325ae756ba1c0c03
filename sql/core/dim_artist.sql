-- Artists named by the export (album artists), keyed by name until enrichment gives URIs.
INSERT INTO core.dim_artist (artist_key, artist_name)
SELECT DISTINCT 'name:' || artist_name, artist_name
FROM staging.streaming_history
WHERE content_kind IN ('track', 'local') AND artist_name IS NOT NULL
ON CONFLICT (artist_key) DO NOTHING;

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_artist;
