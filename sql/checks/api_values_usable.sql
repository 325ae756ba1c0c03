-- Values of cached API answers that the dimensions cannot use, by entity, field and reason,
-- with an example; and required fields usable in no answer of their entity (a whole column
-- lost, e.g. a field Spotify stopped sending). No row, no problem.
SELECT entity, field, state AS problem, count(*) AS answers, min(uri) AS example_uri,
       min(value) AS example_value
FROM etl_internal.api_values
WHERE state NOT IN ('usable', 'absent')
GROUP BY entity, field, state
UNION ALL
SELECT entity, field, 'usable in none of the answers', count(*), min(uri), NULL
FROM etl_internal.api_values
WHERE required
GROUP BY entity, field
HAVING count(*) FILTER (WHERE state = 'usable') = 0
ORDER BY 1, 2, 3;
