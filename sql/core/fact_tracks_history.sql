-- (Re)load the music plays of [%(start)s, %(end)s): delete that span, insert it from staging.
-- Local time: the zone of conn_country when that country has one zone, else the listener's home.
-- Loads of this table run one at a time (two runs reloading the same month would collide).
SELECT pg_advisory_xact_lock(hashtext('core.fact_tracks_history'));

DELETE FROM core.fact_tracks_history WHERE ts >= %(start)s AND ts < %(end)s;

INSERT INTO core.fact_tracks_history (
    play_id, listener, ts, ts_local, time_zone, date_id, time_id, track_id, artist_id,
    reason_start_id, reason_end_id, platform_id, conn_country, ms_played, percent_played,
    play_category, skipped, is_skip, shuffle, offline, offline_at, incognito, is_local,
    is_video, session_id)
SELECT s.play_id, s.listener, s.ts, local.ts_local, zone.name,
       to_char(local.ts_local, 'YYYYMMDD')::integer,
       extract(hour FROM local.ts_local)::integer * 100 + extract(minute FROM local.ts_local)::integer,
       coalesce(t.track_id, 0), coalesce(t.artist_id, 0),
       coalesce(rs.reason_id, 0), coalesce(re.reason_id, 0), coalesce(p.platform_id, 0),
       s.conn_country, s.ms_played, share.percent_played, category.play_category,
       s.skipped,
       coalesce(s.skipped, false)
           OR (category.play_category = 'skip' AND s.reason_end IS DISTINCT FROM 'trackdone'),
       s.shuffle, s.offline, s.offline_at, s.incognito_mode, s.content_kind = 'local',
       s.is_video, ps.session_id
FROM staging.streaming_history AS s
JOIN core.dim_listener AS l ON l.listener = s.listener
LEFT JOIN etl_internal.country_timezone AS ct ON ct.country_code = s.conn_country
LEFT JOIN core.dim_track AS t ON t.track_key = s.content_key
LEFT JOIN core.dim_reason AS rs ON rs.reason_code = s.reason_start
LEFT JOIN core.dim_reason AS re ON re.reason_code = s.reason_end
LEFT JOIN core.dim_platform AS p ON p.platform = s.platform
LEFT JOIN core.play_session AS ps ON ps.play_id = s.play_id
CROSS JOIN LATERAL (SELECT coalesce(ct.timezone, l.home_time_zone) AS name) AS zone
CROSS JOIN LATERAL (SELECT s.ts AT TIME ZONE zone.name AS ts_local) AS local
CROSS JOIN LATERAL (
    SELECT CASE WHEN t.duration_ms > 0
                THEN round(least(s.ms_played::numeric / t.duration_ms, 1), 4) END AS percent_played
) AS share
CROSS JOIN LATERAL (
    SELECT CASE WHEN coalesce(s.ms_played, 0) < %(skip_below_ms)s THEN 'skip'
                WHEN share.percent_played >= %(full_from_share)s OR s.reason_end = 'trackdone' THEN 'full'
                ELSE 'partial' END AS play_category
) AS category
WHERE s.content_kind IN ('track', 'local')
  AND s.ts >= %(start)s AND s.ts < %(end)s;
