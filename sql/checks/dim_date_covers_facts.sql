-- Fact dates that dim_date lacks, among the plays of [%(start)s, %(end)s).
SELECT DISTINCT f.date_id
FROM (SELECT date_id FROM core.fact_tracks_history WHERE ts >= %(start)s AND ts < %(end)s
      UNION SELECT date_id FROM core.fact_podcasts_history WHERE ts >= %(start)s AND ts < %(end)s) AS f
LEFT JOIN core.dim_date AS d ON d.date_id = f.date_id
WHERE d.date_id IS NULL;
