-- What the report reads many times (top artists, songs and albums, all time and each year's
-- number one), from mart.track_years (kept with the facts) for the listener chosen (or
-- everyone): plays and milliseconds per local year and track, a small table. Each ranking then
-- joins it to the dimensions as its mart view does (mart.top_artists_by_year,
-- top_songs_by_year, top_albums_by_year), without reading the aggregates again.
DROP TABLE IF EXISTS pg_temp.report_track_years, pg_temp.report_artists_by_year,
    pg_temp.report_songs_by_year, pg_temp.report_albums_by_year;

CREATE TEMP TABLE report_track_years AS
SELECT year, track_id, artist_id, sum(plays) AS plays, sum(ms_played) AS ms
FROM mart.track_years
WHERE %(listener)s::text IS NULL OR listener = %(listener)s
GROUP BY 1, 2, 3;

CREATE TEMP TABLE report_artists_by_year AS
SELECT y.year, a.artist_name, round(sum(y.ms) / 60000.0, 1) AS minutes, sum(y.plays) AS plays
FROM report_track_years AS y
JOIN core.dim_artist AS a ON a.artist_id = y.artist_id
GROUP BY 1, 2;

CREATE TEMP TABLE report_songs_by_year AS
SELECT y.year, parent.track_name AS song, parent.artist_name, sum(y.plays) AS plays,
       round(sum(y.ms) / 60000.0, 1) AS minutes
FROM report_track_years AS y
JOIN core.dim_track AS t ON t.track_id = y.track_id
JOIN core.dim_track AS parent ON parent.track_id = coalesce(t.parent_track_id, t.track_id)
GROUP BY y.year, parent.track_id, parent.track_name, parent.artist_name;

CREATE TEMP TABLE report_albums_by_year AS
SELECT y.year, t.album_name, t.artist_name, round(sum(y.ms) / 60000.0, 1) AS minutes, sum(y.plays) AS plays
FROM report_track_years AS y
JOIN core.dim_track AS t ON t.track_id = y.track_id
WHERE t.album_name IS NOT NULL
GROUP BY 1, 2, 3;
