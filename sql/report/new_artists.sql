-- Artists heard for the first time, per local month.
SELECT month, sum(new_artists) AS new_artists FROM mart.new_artists_by_month
WHERE (%(listener)s::text IS NULL OR listener = %(listener)s)
  AND (%(year)s::integer IS NULL OR extract(year FROM month) = %(year)s)
GROUP BY 1 ORDER BY 1;
