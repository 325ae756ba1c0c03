-- Top songs by plays across their versions (one year, or all time); from sql/report/prepare.sql.
SELECT song, artist_name, sum(plays) AS plays, sum(minutes) AS minutes FROM report_songs_by_year
WHERE %(year)s::integer IS NULL OR year = %(year)s
GROUP BY 1, 2 ORDER BY 3 DESC, 4 DESC, 1 LIMIT 10;
