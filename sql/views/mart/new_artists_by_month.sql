-- Artists heard for the first time, per local month.
CREATE VIEW mart.new_artists_by_month AS
SELECT listener, first_month AS month, count(*) AS new_artists
FROM (
    SELECT f.listener, f.artist_id, date_trunc('month', min(f.ts_local))::date AS first_month
    FROM core.fact_tracks_history AS f
    WHERE f.artist_id <> 0
    GROUP BY 1, 2
) AS firsts
GROUP BY 1, 2;
