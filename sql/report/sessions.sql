-- Sessions by length category.
SELECT length_category, sum(sessions) AS sessions, sum(minutes) AS minutes FROM mart.sessions_by_length
WHERE (%(listener)s::text IS NULL OR listener = %(listener)s)
  AND (%(year)s::integer IS NULL OR year = %(year)s)
GROUP BY 1
ORDER BY array_position(ARRAY['short', 'medium', 'long', 'marathon'], length_category);
