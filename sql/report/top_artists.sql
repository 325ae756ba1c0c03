-- Top artists by minutes (one year, or all time when year is null); from sql/report/prepare.sql.
SELECT artist_name, sum(minutes) AS minutes, sum(plays) AS plays FROM report_artists_by_year
WHERE %(year)s::integer IS NULL OR year = %(year)s
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10;
