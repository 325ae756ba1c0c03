-- Minutes by genre of the track's primary artist, per local year (genres come from
-- enrichment, and Spotify has deprecated them: often empty).
CREATE VIEW mart.genres_by_year AS
SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, genre,
       round(sum(f.ms_played) / 60000.0, 1) AS minutes
FROM core.fact_tracks_history AS f
JOIN core.dim_artist AS a ON a.artist_id = f.artist_id
CROSS JOIN LATERAL unnest(a.genres) AS genre
GROUP BY 1, 2, 3;
