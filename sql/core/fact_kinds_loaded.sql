-- The facts (by the kind their aggregates are kept as) holding rows in the months of
-- [%(start)s, %(end)s): those their per-date aggregate has rows of (kept in the loads' own
-- transactions).
SELECT DISTINCT kind
FROM mart.daily_listening
WHERE fact_month >= (%(start)s AT TIME ZONE 'UTC')::date
  AND fact_month < (%(end)s AT TIME ZONE 'UTC')::date;
