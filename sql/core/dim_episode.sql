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

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_episode;
