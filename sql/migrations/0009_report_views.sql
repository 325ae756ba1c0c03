-- mart views behind the listening report (spotify_etl/report).

CREATE VIEW mart.top_albums_by_year AS
-- Albums by minutes played per local year, ranked.
SELECT listener, year, album_name, artist_name, minutes, plays,
       rank() OVER (PARTITION BY listener, year ORDER BY minutes DESC) AS rank
FROM (
    SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, t.album_name, t.artist_name,
           round(sum(f.ms_played) / 60000.0, 1) AS minutes, count(*) AS plays
    FROM core.fact_tracks_history AS f
    JOIN core.dim_track AS t ON t.track_id = f.track_id
    WHERE t.album_name IS NOT NULL
    GROUP BY 1, 2, 3, 4
) AS a;

CREATE VIEW mart.sessions_by_length AS
-- Listening sessions per local year and length category.
SELECT s.listener, extract(year FROM s.session_start AT TIME ZONE l.home_time_zone)::integer AS year,
       s.length_category, count(*) AS sessions, round(sum(s.minutes_played), 1) AS minutes
FROM core.fact_listening_sessions AS s
JOIN core.dim_listener AS l USING (listener)
GROUP BY 1, 2, 3;

CREATE VIEW mart.skip_rate_by_month AS
-- Share of music plays that were skips, per local month.
SELECT listener, date_trunc('month', ts_local)::date AS month, count(*) AS plays,
       round(avg(is_skip::integer), 4) AS skip_rate
FROM core.fact_tracks_history
GROUP BY 1, 2;

CREATE VIEW mart.podcast_completion AS
-- How much of each episode was played (its longest play), where its duration is known.
SELECT f.listener, e.episode_id, e.episode_name, p.podcast_name, e.duration_ms,
       max(f.ms_played) AS longest_play_ms,
       CASE WHEN e.duration_ms > 0
            THEN least(round(max(f.ms_played)::numeric / e.duration_ms, 4), 1) END AS completion
FROM core.fact_podcasts_history AS f
JOIN core.dim_episode AS e ON e.episode_id = f.episode_id
JOIN core.dim_podcast AS p ON p.podcast_id = e.podcast_id
GROUP BY 1, 2, 3, 4, 5;

CREATE VIEW mart.genres_by_year AS
-- Minutes by genre of the track's primary artist, per local year (genres come from
-- enrichment, and Spotify has deprecated them: often empty).
SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, genre,
       round(sum(f.ms_played) / 60000.0, 1) AS minutes
FROM core.fact_tracks_history AS f
JOIN core.dim_artist AS a ON a.artist_id = f.artist_id
CROSS JOIN LATERAL unnest(a.genres) AS genre
GROUP BY 1, 2, 3;

CREATE VIEW mart.year_in_review AS
-- Each year's headline numbers, per listener.
SELECT m.listener, m.year, m.music_minutes, m.podcast_minutes, m.plays, m.distinct_tracks,
       m.distinct_artists, m.days_listened
FROM (
    SELECT listener, extract(year FROM ts_local)::integer AS year,
           round(sum(ms_played) FILTER (WHERE kind = 'music') / 60000.0, 0) AS music_minutes,
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

CREATE VIEW mart.coverage AS
-- What the warehouse knows: plays, enrichment coverage, rejected records by reason.
SELECT 'plays stored' AS item, count(*)::text AS value FROM staging.streaming_history
UNION ALL
SELECT 'tracks enriched', count(*) FILTER (WHERE enriched_at IS NOT NULL) || ' of ' || count(*)
FROM core.dim_track WHERE track_id <> 0 AND NOT is_local
UNION ALL
SELECT 'episodes enriched', count(*) FILTER (WHERE enriched_at IS NOT NULL) || ' of ' || count(*)
FROM core.dim_episode WHERE episode_id <> 0
UNION ALL
SELECT 'records rejected: ' || regexp_replace(reason, ' \(.*\)$', ''), count(*)::text
FROM etl_internal.rejected_records GROUP BY regexp_replace(reason, ' \(.*\)$', '')
UNION ALL
SELECT 'failed URIs', count(*)::text FROM etl_internal.failed_uris;
