-- Minutes by local weekday (ISO, Monday 1) and hour, music and podcasts together (from
-- mart.weekday_hour_listening, kept with the facts).
CREATE VIEW mart.listening_clock AS
SELECT a.listener, a.day_of_week, names.day_name, a.hour,
       round(sum(a.ms_played) / 60000.0, 1) AS minutes, sum(a.plays)::bigint AS plays
FROM mart.weekday_hour_listening AS a
JOIN (SELECT DISTINCT day_of_week, day_name FROM core.dim_date) AS names ON names.day_of_week = a.day_of_week
GROUP BY 1, 2, 3, 4;
