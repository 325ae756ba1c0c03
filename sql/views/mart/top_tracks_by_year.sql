-- Tracks by plays (then minutes) per local year, ranked (from mart.track_years).
CREATE VIEW mart.top_tracks_by_year AS
SELECT listener, year, track_name, artist_name, plays, minutes,
       rank() OVER (PARTITION BY listener, year ORDER BY plays DESC, minutes DESC) AS rank
FROM (
    SELECT y.listener, y.year, t.track_name, t.artist_name,
           sum(y.plays)::bigint AS plays, round(sum(y.ms_played) / 60000.0, 1) AS minutes
    FROM mart.track_years AS y
    JOIN core.dim_track AS t ON t.track_id = y.track_id
    GROUP BY 1, 2, 3, 4
) AS t;
