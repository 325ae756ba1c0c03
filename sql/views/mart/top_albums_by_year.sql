-- Albums by minutes played per local year, ranked (from mart.track_years).
CREATE VIEW mart.top_albums_by_year AS
SELECT listener, year, album_name, artist_name, minutes, plays,
       rank() OVER (PARTITION BY listener, year ORDER BY minutes DESC) AS rank
FROM (
    SELECT y.listener, y.year, t.album_name, t.artist_name,
           round(sum(y.ms_played) / 60000.0, 1) AS minutes, sum(y.plays)::bigint AS plays
    FROM mart.track_years AS y
    JOIN core.dim_track AS t ON t.track_id = y.track_id
    WHERE t.album_name IS NOT NULL
    GROUP BY 1, 2, 3, 4
) AS a;
