-- Each year's headline numbers (all listeners summed unless one is chosen).
SELECT year, sum(music_minutes) AS music_minutes, sum(podcast_minutes) AS podcast_minutes,
       sum(plays) AS plays, sum(distinct_tracks) AS distinct_tracks,
       sum(distinct_artists) AS distinct_artists, max(days_listened) AS days_listened
FROM mart.year_in_review
WHERE (%(listener)s::text IS NULL OR listener = %(listener)s)
  AND (%(year)s::integer IS NULL OR year = %(year)s)
GROUP BY 1 ORDER BY 1;
