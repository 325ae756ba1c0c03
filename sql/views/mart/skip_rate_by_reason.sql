-- Share of music plays that were skips, by the reason the play started (from
-- mart.start_reason_listening).
CREATE VIEW mart.skip_rate_by_reason AS
SELECT a.listener, r.reason_code AS reason_start, r.description, sum(a.plays)::bigint AS plays,
       round(sum(a.skips) / sum(a.plays), 4) AS skip_rate
FROM mart.start_reason_listening AS a
JOIN core.dim_reason AS r ON r.reason_id = a.reason_start_id
GROUP BY 1, 2, 3;
