-- (Re)load the podcast plays of [%(start)s, %(end)s): empty those months' partitions (creating
-- those missing), insert the months from staging
-- (local time, keys and session from core.play_context), and replace their aggregates in mart.
-- A month's plays find their sessions by key: with the planner's default cost of a random read
-- (made for spinning disks) it hashed all of play_session instead, for a few thousand plays.
SET LOCAL random_page_cost = 1.1;

-- A whole load runs alone; pieces of a first load, side by side (migration 0020).
SELECT core.begin_fact_load('core.fact_podcasts_history', %(start)s, %(end)s, %(piece)s);

-- A load of a small share of the plays looks each one's session up by key, not the planner's
-- hash of all of play_session (spotify_etl/lib/warehouse/fact_loads.py, SESSIONS_BY_KEY_BELOW):
-- without scans of whole tables to choose from, it takes play_session's primary key.
SELECT set_config('enable_seqscan', CASE WHEN %(sessions_by_key)s THEN 'off' ELSE 'on' END, true);

INSERT INTO core.fact_podcasts_history (
    play_id, listener, ts, ts_local, time_zone, date_id, time_id, episode_id, podcast_id,
    reason_start_id, reason_end_id, platform_id, conn_country, ms_played, percent_played,
    play_category, skipped, is_skip, shuffle, offline, offline_at, incognito, is_video,
    session_id)
SELECT c.play_id, c.listener, c.ts, c.ts_local, c.time_zone, c.date_id, c.time_id,
       coalesce(e.episode_id, 0), coalesce(e.podcast_id, 0),
       c.reason_start_id, c.reason_end_id, c.platform_id, c.conn_country, c.ms_played,
       share.percent_played, category.name, c.skipped,
       core.is_skip(c.skipped, category.name, c.reason_end),
       c.shuffle, c.offline, c.offline_at, c.incognito_mode, c.is_video, c.session_id
FROM core.play_context AS c
-- A play known by names only counts for the episode chosen for its names, if any.
LEFT JOIN etl_internal.name_matches AS m ON m.name_key = c.content_key AND c.content_kind = 'episode'
LEFT JOIN core.dim_episode AS e ON e.episode_key = coalesce(m.spotify_uri, c.content_key)
CROSS JOIN LATERAL (SELECT core.share_played(c.ms_played, e.duration_ms) AS percent_played) AS share
CROSS JOIN LATERAL (
    SELECT core.play_category(c.ms_played, share.percent_played, c.reason_end,
                              %(skip_below_ms)s, %(full_from_share)s) AS name
) AS category
WHERE c.content_kind = 'episode'
  AND c.ts >= %(start)s AND c.ts < %(end)s;

SET LOCAL enable_seqscan TO DEFAULT;

-- Its aggregates of these months, from the rows just loaded (migrations 0017, 0018).
SELECT mart.refresh_fact_aggregates('core.fact_podcasts_history', %(start)s, %(end)s);
SELECT mart.refresh_episode_years(%(start)s, %(end)s);
