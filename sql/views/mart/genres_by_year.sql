-- Minutes by genre of the track's primary artist, per local year (genres come from
-- enrichment, and Spotify has deprecated them: often empty); from mart.track_years.
CREATE VIEW mart.genres_by_year AS
SELECT y.listener, y.year, genre,
       round(sum(y.ms_played) / 60000.0, 1) AS minutes
FROM mart.track_years AS y
JOIN core.dim_artist AS a ON a.artist_id = y.artist_id
CROSS JOIN LATERAL unnest(a.genres) AS genre
GROUP BY 1, 2, 3;
