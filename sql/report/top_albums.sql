-- Top albums by minutes (one year, or all time); from sql/report/prepare.sql.
SELECT album_name, artist_name, sum(minutes) AS minutes, sum(plays) AS plays FROM report_albums_by_year
WHERE %(year)s::integer IS NULL OR year = %(year)s
GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10;
