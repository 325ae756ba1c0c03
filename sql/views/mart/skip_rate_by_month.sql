-- Share of music plays that were skips, per local month.
CREATE VIEW mart.skip_rate_by_month AS
SELECT listener, date_trunc('month', ts_local)::date AS month, count(*) AS plays,
       round(avg(is_skip::integer), 4) AS skip_rate
FROM core.fact_tracks_history
GROUP BY 1, 2;
