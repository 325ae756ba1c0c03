-- Artists by minutes played per local year, ranked.
CREATE VIEW mart.top_artists_by_year AS
SELECT listener, year, artist_name, minutes, plays,
       rank() OVER (PARTITION BY listener, year ORDER BY minutes DESC) AS rank
FROM (
    SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, a.artist_name,
           round(sum(f.ms_played) / 60000.0, 1) AS minutes, count(*) AS plays
    FROM core.fact_tracks_history AS f
    JOIN core.dim_artist AS a ON a.artist_id = f.artist_id
    GROUP BY 1, 2, 3
) AS t;
