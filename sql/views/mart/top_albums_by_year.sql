-- Albums by minutes played per local year, ranked.
CREATE VIEW mart.top_albums_by_year AS
SELECT listener, year, album_name, artist_name, minutes, plays,
       rank() OVER (PARTITION BY listener, year ORDER BY minutes DESC) AS rank
FROM (
    SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, t.album_name, t.artist_name,
           round(sum(f.ms_played) / 60000.0, 1) AS minutes, count(*) AS plays
    FROM core.fact_tracks_history AS f
    JOIN core.dim_track AS t ON t.track_id = f.track_id
    WHERE t.album_name IS NOT NULL
    GROUP BY 1, 2, 3, 4
) AS a;
