-- Each listener's home: the most frequent conn_country and its time zone, unless the
-- configured home zone (%(home_time_zone)s) says otherwise. Looked at again for the listeners
-- with new plays; the months of a listener whose home changed (local times change) go to
-- changed_months. Of a listener added, only the months of plays the sessions step has read
-- already (files up to %(sessions_read_through)s): the sessions step reports the month of
-- every play it reads, and it reads the others once this home is committed
-- (spotify_etl.lib.warehouse.incremental.files_read), so a first run digests and observes
-- each month once, not twice.
WITH known AS (
    SELECT listener FROM core.dim_listener
), changed AS (
INSERT INTO core.dim_listener (listener, home_country, home_time_zone)
SELECT listeners.listener, top.conn_country,
       coalesce(%(home_time_zone)s, ct.timezone, 'UTC')
FROM (SELECT DISTINCT listener FROM new_plays) AS listeners
-- Its plays per country are kept as they are staged (migration 0019): a few rows to read.
LEFT JOIN LATERAL (
    SELECT conn_country FROM etl_internal.listener_country_plays AS c
    WHERE c.listener = listeners.listener
    ORDER BY c.plays DESC, c.conn_country LIMIT 1
) AS top ON true
LEFT JOIN etl_internal.country_timezone AS ct ON ct.country_code = top.conn_country
ON CONFLICT (listener) DO UPDATE
SET home_country = excluded.home_country, home_time_zone = excluded.home_time_zone
WHERE (core.dim_listener.home_country, core.dim_listener.home_time_zone)
      IS DISTINCT FROM (excluded.home_country, excluded.home_time_zone)
RETURNING listener
)
INSERT INTO changed_months
SELECT DISTINCT to_char(s.ts AT TIME ZONE 'UTC', 'YYYY-MM')
FROM staging.streaming_history AS s
JOIN changed AS c ON c.listener = s.listener
WHERE c.listener IN (SELECT listener FROM known) OR s.source_file_id <= %(sessions_read_through)s;

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_listener;
