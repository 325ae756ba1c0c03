-- Fact keys with no row in their dimension, counted by fact and key, among the plays of
-- [%(start)s, %(end)s): the months a run loaded, or all time. Outer joins, not a lookup per
-- row and key: the dimensions are small and hash once.
SELECT fact, key_name, count(*) AS rows
FROM (
    SELECT 'fact_tracks_history' AS fact, unnest(ARRAY[
        CASE WHEN t.track_id IS NULL THEN 'track_id' END,
        CASE WHEN a.artist_id IS NULL THEN 'artist_id' END,
        CASE WHEN d.date_id IS NULL THEN 'date_id' END,
        CASE WHEN tm.time_id IS NULL THEN 'time_id' END,
        CASE WHEN rs.reason_id IS NULL THEN 'reason_start_id' END,
        CASE WHEN re.reason_id IS NULL THEN 'reason_end_id' END,
        CASE WHEN p.platform_id IS NULL THEN 'platform_id' END,
        CASE WHEN s.session_id IS NULL THEN 'session_id' END
    ]) AS key_name
    FROM core.fact_tracks_history AS f
    LEFT JOIN core.dim_track AS t ON t.track_id = f.track_id
    LEFT JOIN core.dim_artist AS a ON a.artist_id = f.artist_id
    LEFT JOIN core.dim_date AS d ON d.date_id = f.date_id
    LEFT JOIN core.dim_time AS tm ON tm.time_id = f.time_id
    LEFT JOIN core.dim_reason AS rs ON rs.reason_id = f.reason_start_id
    LEFT JOIN core.dim_reason AS re ON re.reason_id = f.reason_end_id
    LEFT JOIN core.dim_platform AS p ON p.platform_id = f.platform_id
    LEFT JOIN core.fact_listening_sessions AS s ON s.session_id = f.session_id
    WHERE f.ts >= %(start)s AND f.ts < %(end)s
    UNION ALL
    SELECT 'fact_podcasts_history', unnest(ARRAY[
        CASE WHEN e.episode_id IS NULL THEN 'episode_id' END,
        CASE WHEN pc.podcast_id IS NULL THEN 'podcast_id' END,
        CASE WHEN d.date_id IS NULL THEN 'date_id' END,
        CASE WHEN tm.time_id IS NULL THEN 'time_id' END,
        CASE WHEN rs.reason_id IS NULL THEN 'reason_start_id' END,
        CASE WHEN re.reason_id IS NULL THEN 'reason_end_id' END,
        CASE WHEN p.platform_id IS NULL THEN 'platform_id' END,
        CASE WHEN s.session_id IS NULL THEN 'session_id' END
    ])
    FROM core.fact_podcasts_history AS f
    LEFT JOIN core.dim_episode AS e ON e.episode_id = f.episode_id
    LEFT JOIN core.dim_podcast AS pc ON pc.podcast_id = f.podcast_id
    LEFT JOIN core.dim_date AS d ON d.date_id = f.date_id
    LEFT JOIN core.dim_time AS tm ON tm.time_id = f.time_id
    LEFT JOIN core.dim_reason AS rs ON rs.reason_id = f.reason_start_id
    LEFT JOIN core.dim_reason AS re ON re.reason_id = f.reason_end_id
    LEFT JOIN core.dim_platform AS p ON p.platform_id = f.platform_id
    LEFT JOIN core.fact_listening_sessions AS s ON s.session_id = f.session_id
    WHERE f.ts >= %(start)s AND f.ts < %(end)s
) AS keys
WHERE key_name IS NOT NULL
GROUP BY fact, key_name;
