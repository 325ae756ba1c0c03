-- Share of music plays that were skips, by the reason the play started.
CREATE VIEW mart.skip_rate_by_reason AS
SELECT f.listener, r.reason_code AS reason_start, r.description, count(*) AS plays,
       round(avg(f.is_skip::integer), 4) AS skip_rate
FROM core.fact_tracks_history AS f
JOIN core.dim_reason AS r ON r.reason_id = f.reason_start_id
GROUP BY 1, 2, 3;
