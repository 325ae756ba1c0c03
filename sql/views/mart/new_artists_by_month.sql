-- Artists heard for the first time, per local month (from mart.track_years).
CREATE VIEW mart.new_artists_by_month AS
SELECT listener, first_month AS month, count(*) AS new_artists
FROM (
    SELECT listener, artist_id, date_trunc('month', min(first_played))::date AS first_month
    FROM mart.track_years
    WHERE artist_id <> 0
    GROUP BY 1, 2
) AS firsts
GROUP BY 1, 2;
