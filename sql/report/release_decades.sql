-- Minutes by the decade the track was released in (from enrichment; NULL: not known), and the
-- summed lengths and count of the plays whose track length is known (an average over all
-- plays); from sql/report/prepare.sql.
SELECT extract(year FROM t.release_date)::integer / 10 * 10 AS decade,
       round(sum(y.ms) / 60000.0, 1) AS minutes,
       coalesce(sum(t.duration_ms::bigint * y.plays), 0) AS length_ms_sum,
       coalesce(sum(y.plays) FILTER (WHERE t.duration_ms IS NOT NULL), 0) AS plays_with_length
FROM report_track_years AS y
JOIN core.dim_track AS t ON t.track_id = y.track_id
WHERE %(year)s::integer IS NULL OR y.year = %(year)s
GROUP BY 1 ORDER BY 1 NULLS LAST;
