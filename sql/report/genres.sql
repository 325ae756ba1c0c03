-- Minutes by genre of the track's primary artist (from enrichment; often empty since Spotify
-- deprecated genres), as mart.genres_by_year has them; from sql/report/prepare.sql.
SELECT genre, round(sum(y.ms) / 60000.0, 1) AS minutes
FROM report_track_years AS y
JOIN core.dim_artist AS a ON a.artist_id = y.artist_id
CROSS JOIN LATERAL unnest(a.genres) AS genre
WHERE %(year)s::integer IS NULL OR y.year = %(year)s
GROUP BY 1 ORDER BY 2 DESC LIMIT 12;
