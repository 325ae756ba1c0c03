-- Minutes listened per local month, music and podcasts side by side (from
-- mart.daily_listening, kept with the facts).
CREATE VIEW mart.minutes_by_month AS
SELECT a.listener, date_trunc('month', d.date)::date AS month, a.kind,
       round(sum(a.ms_played) / 60000.0, 1) AS minutes, sum(a.plays)::bigint AS plays
FROM mart.daily_listening AS a
JOIN core.dim_date AS d ON d.date_id = a.date_id
GROUP BY 1, 2, 3;
