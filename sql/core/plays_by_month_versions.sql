-- A version of what the facts of each month are built from: every staged play (its own
-- values), its session, its listener's home zone, the item chosen for its names (if it has no
-- id), and when its track or episode was last enriched (durations and artists come with that). Each part is set by one step, and that
-- step reports the months it changed (spotify_etl.defs.changed_months), so the last report of
-- a month carries the version this query gives now. Sums of hashes need no sort. The months
-- are those in %(months)s (YYYY-MM, UTC), within [%(start)s, %(end)s) so that the scan is narrow.
SELECT to_char(s.ts AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
       count(*) || '-' || sum(hashtextextended(concat_ws('|',
           s.play_id, s.listener, s.ts, s.content_kind, s.content_key, s.ms_played, s.conn_country, s.platform,
           s.reason_start, s.reason_end, s.skipped, s.shuffle, s.offline, s.incognito_mode,
           ps.session_id, l.home_time_zone, m.spotify_uri, t.enriched_at, e.enriched_at), 0)) AS version
FROM staging.streaming_history AS s
LEFT JOIN core.play_session AS ps ON ps.play_id = s.play_id
LEFT JOIN core.dim_listener AS l ON l.listener = s.listener
LEFT JOIN etl_internal.name_matches AS m ON m.name_key = s.content_key AND s.content_kind IN ('track', 'episode')
LEFT JOIN core.dim_track AS t
       ON t.track_key = coalesce(m.spotify_uri, s.content_key) AND s.content_kind IN ('track', 'local')
LEFT JOIN core.dim_episode AS e ON e.episode_key = coalesce(m.spotify_uri, s.content_key) AND s.content_kind = 'episode'
WHERE s.ts >= %(start)s AND s.ts < %(end)s
  AND to_char(s.ts AT TIME ZONE 'UTC', 'YYYY-MM') = ANY(%(months)s)
GROUP BY 1;
