-- Natural keys held by more than one fact row (the unique constraints forbid it; this proves it),
-- among the plays of [%(start)s, %(end)s): the months a run loaded, or all time.
SELECT 'fact_tracks_history' AS fact, listener, ts, track_id AS content_id, ms_played, count(*) AS n
FROM core.fact_tracks_history WHERE ts >= %(start)s AND ts < %(end)s GROUP BY listener, ts, track_id, ms_played HAVING count(*) > 1
UNION ALL
SELECT 'fact_podcasts_history', listener, ts, episode_id, ms_played, count(*)
FROM core.fact_podcasts_history WHERE ts >= %(start)s AND ts < %(end)s GROUP BY listener, ts, episode_id, ms_played HAVING count(*) > 1;
