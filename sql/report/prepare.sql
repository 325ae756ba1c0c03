-- The per-year rankings the report reads many times (all time, then each year's number one),
-- computed once from their mart views for the listener chosen (or everyone): small tables, so
-- the report scans the facts for them once instead of once a year.
DROP TABLE IF EXISTS pg_temp.report_artists_by_year, pg_temp.report_songs_by_year;

CREATE TEMP TABLE report_artists_by_year AS
SELECT year, artist_name, sum(minutes) AS minutes, sum(plays) AS plays
FROM mart.top_artists_by_year
WHERE %(listener)s::text IS NULL OR listener = %(listener)s
GROUP BY 1, 2;

CREATE TEMP TABLE report_songs_by_year AS
SELECT year, song, artist_name, sum(plays) AS plays, sum(minutes) AS minutes
FROM mart.top_songs_by_year
WHERE %(listener)s::text IS NULL OR listener = %(listener)s
GROUP BY 1, 2, 3;
