-- Skip rate by the reason a play started.
SELECT reason_start, description, sum(plays) AS plays, round(sum(skip_rate * plays) / sum(plays), 4) AS skip_rate
FROM mart.skip_rate_by_reason
WHERE (%(listener)s::text IS NULL OR listener = %(listener)s)
GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 12;
