-- Shows named by the export, keyed by name until enrichment gives their URIs.
INSERT INTO core.dim_podcast (podcast_key, podcast_name)
SELECT DISTINCT 'name:' || show_name, show_name
FROM staging.streaming_history
WHERE content_kind = 'episode' AND show_name IS NOT NULL
ON CONFLICT (podcast_key) DO NOTHING;

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_podcast;
