-- Minutes by local weekday (1 = Monday) and hour.
SELECT day_of_week, hour, sum(minutes) AS minutes FROM mart.listening_clock
WHERE (%(listener)s::text IS NULL OR listener = %(listener)s)
GROUP BY 1, 2 ORDER BY 1, 2;
