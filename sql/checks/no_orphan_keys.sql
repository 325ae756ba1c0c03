-- Fact keys with no row in their dimension, counted by fact and key, among the plays of
-- [%(start)s, %(end)s): the months a run loaded, or all time.
SELECT fact, key_name, count(*) AS rows
FROM (
    SELECT 'fact_tracks_history' AS fact, unnest(ARRAY[
        CASE WHEN NOT EXISTS (SELECT 1 FROM core.dim_track d WHERE d.track_id = f.track_id) THEN 'track_id' END,
        CASE WHEN NOT EXISTS (SELECT 1 FROM core.dim_artist d WHERE d.artist_id = f.artist_id) THEN 'artist_id' END,
        CASE WHEN NOT EXISTS (SELECT 1 FROM core.dim_date d WHERE d.date_id = f.date_id) THEN 'date_id' END,
        CASE WHEN NOT EXISTS (SELECT 1 FROM core.dim_time d WHERE d.time_id = f.time_id) THEN 'time_id' END,
        CASE WHEN NOT EXISTS (SELECT 1 FROM core.dim_reason d WHERE d.reason_id = f.reason_start_id) THEN 'reason_start_id' END,
        CASE WHEN NOT EXISTS (SELECT 1 FROM core.dim_reason d WHERE d.reason_id = f.reason_end_id) THEN 'reason_end_id' END,
        CASE WHEN NOT EXISTS (SELECT 1 FROM core.dim_platform d WHERE d.platform_id = f.platform_id) THEN 'platform_id' END,
        CASE WHEN f.session_id IS NULL OR NOT EXISTS (SELECT 1 FROM core.fact_listening_sessions d WHERE d.session_id = f.session_id) THEN 'session_id' END
    ]) AS key_name
    FROM core.fact_tracks_history AS f
    WHERE f.ts >= %(start)s AND f.ts < %(end)s
    UNION ALL
    SELECT 'fact_podcasts_history', unnest(ARRAY[
        CASE WHEN NOT EXISTS (SELECT 1 FROM core.dim_episode d WHERE d.episode_id = f.episode_id) THEN 'episode_id' END,
        CASE WHEN NOT EXISTS (SELECT 1 FROM core.dim_podcast d WHERE d.podcast_id = f.podcast_id) THEN 'podcast_id' END,
        CASE WHEN NOT EXISTS (SELECT 1 FROM core.dim_date d WHERE d.date_id = f.date_id) THEN 'date_id' END,
        CASE WHEN NOT EXISTS (SELECT 1 FROM core.dim_time d WHERE d.time_id = f.time_id) THEN 'time_id' END,
        CASE WHEN NOT EXISTS (SELECT 1 FROM core.dim_reason d WHERE d.reason_id = f.reason_start_id) THEN 'reason_start_id' END,
        CASE WHEN NOT EXISTS (SELECT 1 FROM core.dim_reason d WHERE d.reason_id = f.reason_end_id) THEN 'reason_end_id' END,
        CASE WHEN NOT EXISTS (SELECT 1 FROM core.dim_platform d WHERE d.platform_id = f.platform_id) THEN 'platform_id' END,
        CASE WHEN f.session_id IS NULL OR NOT EXISTS (SELECT 1 FROM core.fact_listening_sessions d WHERE d.session_id = f.session_id) THEN 'session_id' END
    ])
    FROM core.fact_podcasts_history AS f
    WHERE f.ts >= %(start)s AND f.ts < %(end)s
) AS keys
WHERE key_name IS NOT NULL
GROUP BY fact, key_name;
