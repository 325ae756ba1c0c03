-- Minutes by genre (from enrichment; often empty since Spotify deprecated genres).
SELECT genre, sum(minutes) AS minutes FROM mart.genres_by_year
WHERE (%(listener)s::text IS NULL OR listener = %(listener)s)
  AND (%(year)s::integer IS NULL OR year = %(year)s)
GROUP BY 1 ORDER BY 2 DESC LIMIT 12;
