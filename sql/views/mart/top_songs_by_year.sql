-- Songs across their versions (through dim_track.parent_track_id), by plays per local year.
CREATE VIEW mart.top_songs_by_year AS
SELECT listener, year, song, artist_name, plays, versions_played, minutes,
       rank() OVER (PARTITION BY listener, year ORDER BY plays DESC, minutes DESC) AS rank
FROM (
    SELECT f.listener, extract(year FROM f.ts_local)::integer AS year,
           parent.track_name AS song, parent.artist_name,
           count(*) AS plays, count(DISTINCT f.track_id) AS versions_played,
           round(sum(f.ms_played) / 60000.0, 1) AS minutes
    FROM core.fact_tracks_history AS f
    JOIN core.dim_track AS t ON t.track_id = f.track_id
    JOIN core.dim_track AS parent ON parent.track_id = coalesce(t.parent_track_id, t.track_id)
    GROUP BY 1, 2, parent.track_id, parent.track_name, parent.artist_name
) AS songs;
