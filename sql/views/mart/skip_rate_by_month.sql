-- Share of music plays that were skips, per local month (from mart.daily_listening).
CREATE VIEW mart.skip_rate_by_month AS
SELECT a.listener, date_trunc('month', d.date)::date AS month, sum(a.plays)::bigint AS plays,
       round(sum(a.skips) / sum(a.plays), 4) AS skip_rate
FROM mart.daily_listening AS a
JOIN core.dim_date AS d ON d.date_id = a.date_id
WHERE a.kind = 'music'
GROUP BY 1, 2;
