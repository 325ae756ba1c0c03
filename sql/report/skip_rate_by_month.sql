-- Skip rate per local month.
SELECT month, sum(plays) AS plays, round(sum(skip_rate * plays) / sum(plays), 4) AS skip_rate
FROM mart.skip_rate_by_month
WHERE (%(listener)s::text IS NULL OR listener = %(listener)s)
  AND (%(year)s::integer IS NULL OR extract(year FROM month) = %(year)s)
GROUP BY 1 ORDER BY 1;
