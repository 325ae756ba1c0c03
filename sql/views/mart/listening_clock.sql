-- Minutes by local weekday (ISO, Monday 1) and hour, music and podcasts together.
CREATE VIEW mart.listening_clock AS
SELECT listener, d.day_of_week, d.day_name, tm.hour,
       round(sum(ms_played) / 60000.0, 1) AS minutes, count(*) AS plays
FROM (SELECT listener, date_id, time_id, ms_played FROM core.fact_tracks_history
      UNION ALL
      SELECT listener, date_id, time_id, ms_played FROM core.fact_podcasts_history) AS f
JOIN core.dim_date AS d USING (date_id)
JOIN core.dim_time AS tm USING (time_id)
GROUP BY 1, 2, 3, 4;
