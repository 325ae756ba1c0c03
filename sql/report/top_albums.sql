-- Top albums by minutes (one year, or all time).
SELECT album_name, artist_name, sum(minutes) AS minutes, sum(plays) AS plays FROM mart.top_albums_by_year
WHERE (%(listener)s::text IS NULL OR listener = %(listener)s)
  AND (%(year)s::integer IS NULL OR year = %(year)s)
GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10;
