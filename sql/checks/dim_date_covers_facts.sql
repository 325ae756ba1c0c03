-- Fact dates that dim_date lacks.
SELECT DISTINCT f.date_id
FROM (SELECT date_id FROM core.fact_tracks_history UNION SELECT date_id FROM core.fact_podcasts_history) AS f
LEFT JOIN core.dim_date AS d ON d.date_id = f.date_id
WHERE d.date_id IS NULL;
