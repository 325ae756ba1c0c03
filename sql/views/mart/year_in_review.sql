-- Each year's headline numbers, per listener.
CREATE VIEW mart.year_in_review AS
SELECT m.listener, m.year, m.music_minutes, m.podcast_minutes, m.plays, m.distinct_tracks,
       m.distinct_artists, m.days_listened
FROM (
    SELECT listener, extract(year FROM ts_local)::integer AS year,
           round(coalesce(sum(ms_played) FILTER (WHERE kind = 'music'), 0) / 60000.0, 0) AS music_minutes,
           round(coalesce(sum(ms_played) FILTER (WHERE kind = 'podcast'), 0) / 60000.0, 0) AS podcast_minutes,
           count(*) AS plays,
           count(DISTINCT content_id) FILTER (WHERE kind = 'music') AS distinct_tracks,
           count(DISTINCT artist_id) FILTER (WHERE kind = 'music') AS distinct_artists,
           count(DISTINCT ts_local::date) AS days_listened
    FROM (SELECT listener, ts_local, ms_played, 'music' AS kind, track_id AS content_id, artist_id
          FROM core.fact_tracks_history
          UNION ALL
          SELECT listener, ts_local, ms_played, 'podcast', episode_id, NULL
          FROM core.fact_podcasts_history) AS plays
    GROUP BY 1, 2
) AS m;
