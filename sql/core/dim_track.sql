-- Tracks as the export names them (the latest play's names), keyed by URI, or by names for
-- local files and account-data plays. Enrichment fills the other columns in place.
INSERT INTO core.dim_track (track_key, spotify_track_uri, track_name, artist_name, artist_id, album_name, is_local)
SELECT DISTINCT ON (s.content_key)
       s.content_key,
       CASE WHEN s.content_kind = 'track' THEN s.spotify_track_uri END,
       coalesce(s.track_name, s.spotify_track_uri, 'Unnamed track'),
       s.artist_name,
       coalesce(a.artist_id, 0),
       s.album_name,
       s.content_kind = 'local'
FROM staging.streaming_history AS s
LEFT JOIN core.dim_artist AS a ON a.artist_key = 'name:' || s.artist_name
WHERE s.content_kind IN ('track', 'local')
ORDER BY s.content_key, s.ts DESC
ON CONFLICT (track_key) DO NOTHING;

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_track;
