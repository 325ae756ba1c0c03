-- What both fact tables take from a staged play besides its content: local time (the zone of
-- conn_country when that country has one zone, else the listener's home), date and time keys,
-- reason and platform keys, session. One definition, read by sql/core/fact_*.sql.
CREATE VIEW core.play_context AS
SELECT s.play_id, s.listener, s.ts, s.content_kind, s.content_key, s.conn_country, s.ms_played,
       s.skipped, s.shuffle, s.offline, s.offline_at, s.incognito_mode, s.is_video, s.reason_end,
       local.ts_local,
       zone.name AS time_zone,
       to_char(local.ts_local, 'YYYYMMDD')::integer AS date_id,
       (date_part('hour', local.ts_local) * 100 + date_part('minute', local.ts_local))::integer AS time_id,
       coalesce(rs.reason_id, 0) AS reason_start_id,
       coalesce(re.reason_id, 0) AS reason_end_id,
       coalesce(p.platform_id, 0) AS platform_id,
       ps.session_id
FROM staging.streaming_history AS s
JOIN core.dim_listener AS l ON l.listener = s.listener
LEFT JOIN etl_internal.country_timezone AS ct ON ct.country_code = s.conn_country
LEFT JOIN core.dim_reason AS rs ON rs.reason_code = s.reason_start
LEFT JOIN core.dim_reason AS re ON re.reason_code = s.reason_end
LEFT JOIN core.dim_platform AS p ON p.platform = s.platform
LEFT JOIN core.play_session AS ps ON ps.play_id = s.play_id
CROSS JOIN LATERAL (SELECT coalesce(ct.timezone, l.home_time_zone) AS name) AS zone
-- OFFSET 0 keeps this a subquery, converted once a row: inlined, each of the four uses of
-- ts_local converted the time again (0.9 s of a first load at 1M plays).
CROSS JOIN LATERAL (SELECT s.ts AT TIME ZONE zone.name AS ts_local OFFSET 0) AS local;
