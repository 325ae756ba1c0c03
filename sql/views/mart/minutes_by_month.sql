-- Minutes listened per local month, music and podcasts side by side.
CREATE VIEW mart.minutes_by_month AS
SELECT listener, date_trunc('month', ts_local)::date AS month, 'music' AS kind,
       round(sum(ms_played) / 60000.0, 1) AS minutes, count(*) AS plays
FROM core.fact_tracks_history GROUP BY 1, 2
UNION ALL
SELECT listener, date_trunc('month', ts_local)::date, 'podcast',
       round(sum(ms_played) / 60000.0, 1), count(*)
FROM core.fact_podcasts_history GROUP BY 1, 2;
