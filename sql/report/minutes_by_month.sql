-- Minutes per local month, music and podcasts.
SELECT month, kind, sum(minutes) AS minutes FROM mart.minutes_by_month
WHERE (%(listener)s::text IS NULL OR listener = %(listener)s)
  AND (%(year)s::integer IS NULL OR extract(year FROM month) = %(year)s)
GROUP BY 1, 2 ORDER BY 1, 2;
