-- Songs across their versions (through dim_track.parent_track_id), by plays per local year
-- (from mart.track_years).
CREATE VIEW mart.top_songs_by_year AS
SELECT listener, year, song, artist_name, plays, versions_played, minutes,
       rank() OVER (PARTITION BY listener, year ORDER BY plays DESC, minutes DESC) AS rank
FROM (
    SELECT y.listener, y.year, parent.track_name AS song, parent.artist_name,
           sum(y.plays)::bigint AS plays, count(DISTINCT y.track_id) AS versions_played,
           round(sum(y.ms_played) / 60000.0, 1) AS minutes
    FROM mart.track_years AS y
    JOIN core.dim_track AS t ON t.track_id = y.track_id
    JOIN core.dim_track AS parent ON parent.track_id = coalesce(t.parent_track_id, t.track_id)
    GROUP BY 1, 2, parent.track_id, parent.track_name, parent.artist_name
) AS songs;
