-- The time span and the months (YYYY-MM, UTC) of the plays of the file being loaded.
SELECT min(ts), max(ts), coalesce(array_agg(DISTINCT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM')), '{}')
FROM load_plays;
