-- Artists by minutes played per local year, ranked (from mart.track_years).
CREATE VIEW mart.top_artists_by_year AS
SELECT listener, year, artist_name, minutes, plays,
       rank() OVER (PARTITION BY listener, year ORDER BY minutes DESC) AS rank
FROM (
    SELECT y.listener, y.year, a.artist_name,
           round(sum(y.ms_played) / 60000.0, 1) AS minutes, sum(y.plays)::bigint AS plays
    FROM mart.track_years AS y
    JOIN core.dim_artist AS a ON a.artist_id = y.artist_id
    GROUP BY 1, 2, 3
) AS t;
