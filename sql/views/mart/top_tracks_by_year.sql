-- Tracks by plays (then minutes) per local year, ranked.
CREATE VIEW mart.top_tracks_by_year AS
SELECT listener, year, track_name, artist_name, plays, minutes,
       rank() OVER (PARTITION BY listener, year ORDER BY plays DESC, minutes DESC) AS rank
FROM (
    SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, t.track_name, t.artist_name,
           count(*) AS plays, round(sum(f.ms_played) / 60000.0, 1) AS minutes
    FROM core.fact_tracks_history AS f
    JOIN core.dim_track AS t ON t.track_id = f.track_id
    GROUP BY 1, 2, 3, 4
) AS t;
