-- Top podcasts by minutes (one year, or all time).
SELECT podcast_name, sum(minutes) AS minutes, sum(episodes_played) AS episodes FROM mart.top_shows_by_year
WHERE (%(listener)s::text IS NULL OR listener = %(listener)s)
  AND (%(year)s::integer IS NULL OR year = %(year)s)
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10;
