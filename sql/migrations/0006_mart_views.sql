-- mart: views answering the common questions, on the core facts and dimensions.

CREATE VIEW mart.minutes_by_month AS
-- Minutes listened per local month, music and podcasts side by side.
SELECT listener, date_trunc('month', ts_local)::date AS month, 'music' AS kind,
       round(sum(ms_played) / 60000.0, 1) AS minutes, count(*) AS plays
FROM core.fact_tracks_history GROUP BY 1, 2
UNION ALL
SELECT listener, date_trunc('month', ts_local)::date, 'podcast',
       round(sum(ms_played) / 60000.0, 1), count(*)
FROM core.fact_podcasts_history GROUP BY 1, 2;

CREATE VIEW mart.top_artists_by_year AS
-- Artists by minutes played per local year, ranked.
SELECT listener, year, artist_name, minutes, plays,
       rank() OVER (PARTITION BY listener, year ORDER BY minutes DESC) AS rank
FROM (
    SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, a.artist_name,
           round(sum(f.ms_played) / 60000.0, 1) AS minutes, count(*) AS plays
    FROM core.fact_tracks_history AS f
    JOIN core.dim_artist AS a ON a.artist_id = f.artist_id
    GROUP BY 1, 2, 3
) AS t;

CREATE VIEW mart.top_tracks_by_year AS
-- Tracks by plays (then minutes) per local year, ranked.
SELECT listener, year, track_name, artist_name, plays, minutes,
       rank() OVER (PARTITION BY listener, year ORDER BY plays DESC, minutes DESC) AS rank
FROM (
    SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, t.track_name, t.artist_name,
           count(*) AS plays, round(sum(f.ms_played) / 60000.0, 1) AS minutes
    FROM core.fact_tracks_history AS f
    JOIN core.dim_track AS t ON t.track_id = f.track_id
    GROUP BY 1, 2, 3, 4
) AS t;

CREATE VIEW mart.top_shows_by_year AS
-- Podcasts by minutes listened per local year, ranked.
SELECT listener, year, podcast_name, minutes, episodes_played,
       rank() OVER (PARTITION BY listener, year ORDER BY minutes DESC) AS rank
FROM (
    SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, p.podcast_name,
           round(sum(f.ms_played) / 60000.0, 1) AS minutes, count(DISTINCT f.episode_id) AS episodes_played
    FROM core.fact_podcasts_history AS f
    JOIN core.dim_podcast AS p ON p.podcast_id = f.podcast_id
    GROUP BY 1, 2, 3
) AS t;

CREATE VIEW mart.listening_clock AS
-- Minutes by local weekday (ISO, Monday 1) and hour, music and podcasts together.
SELECT listener, d.day_of_week, d.day_name, tm.hour,
       round(sum(ms_played) / 60000.0, 1) AS minutes, count(*) AS plays
FROM (SELECT listener, date_id, time_id, ms_played FROM core.fact_tracks_history
      UNION ALL
      SELECT listener, date_id, time_id, ms_played FROM core.fact_podcasts_history) AS f
JOIN core.dim_date AS d USING (date_id)
JOIN core.dim_time AS tm USING (time_id)
GROUP BY 1, 2, 3, 4;

CREATE VIEW mart.skip_rate_by_reason AS
-- Share of music plays that were skips, by the reason the play started.
SELECT f.listener, r.reason_code AS reason_start, r.description, count(*) AS plays,
       round(avg(f.is_skip::integer), 4) AS skip_rate
FROM core.fact_tracks_history AS f
JOIN core.dim_reason AS r ON r.reason_id = f.reason_start_id
GROUP BY 1, 2, 3;

CREATE VIEW mart.new_artists_by_month AS
-- Artists heard for the first time, per local month.
SELECT listener, first_month AS month, count(*) AS new_artists
FROM (
    SELECT f.listener, f.artist_id, date_trunc('month', min(f.ts_local))::date AS first_month
    FROM core.fact_tracks_history AS f
    WHERE f.artist_id <> 0
    GROUP BY 1, 2
) AS firsts
GROUP BY 1, 2;
