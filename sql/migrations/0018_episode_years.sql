-- Podcast plays per local year and episode (with the show the play counted for), kept with the
-- podcast fact like the aggregates of migration 0017: mart.top_shows_by_year reads these
-- instead of every podcast play (0.4 s of each report at 1M plays). fact_month is the UTC
-- month of the fact's partition the rows were built from (what a reload replaces). Sums over
-- fact_month give what the view computed from the fact, exactly; an episode counts once per
-- year however many months it was played in, as count(DISTINCT episode_id) over the rows.
CREATE TABLE mart.episode_years (
    fact_month date NOT NULL,
    listener text NOT NULL,
    year integer NOT NULL,
    episode_id integer NOT NULL,
    podcast_id integer NOT NULL,
    plays bigint NOT NULL,
    ms_played numeric,
    PRIMARY KEY (fact_month, listener, year, episode_id, podcast_id)
);

-- Replace the rows of the months of [first_ts, end_ts) (month starts, UTC) with those of the
-- podcast fact's rows now; sql/core/fact_podcasts_history.sql calls it in its load's transaction.
CREATE FUNCTION mart.refresh_episode_years(first_ts timestamptz, end_ts timestamptz)
RETURNS void
LANGUAGE sql AS $$
    DELETE FROM mart.episode_years AS a
    WHERE a.fact_month >= date_trunc('month', first_ts AT TIME ZONE 'UTC')::date
      AND a.fact_month < date_trunc('month', end_ts AT TIME ZONE 'UTC')::date;
    INSERT INTO mart.episode_years (fact_month, listener, year, episode_id, podcast_id, plays, ms_played)
    SELECT date_trunc('month', f.ts AT TIME ZONE 'UTC')::date, f.listener,
           extract(year FROM f.ts_local)::integer, f.episode_id, f.podcast_id, count(*), sum(f.ms_played)
    FROM core.fact_podcasts_history AS f
    WHERE f.ts >= first_ts AND f.ts < end_ts
    GROUP BY 1, 2, 3, 4, 5;
$$;

-- The podcast plays already loaded.
SELECT mart.refresh_episode_years('2000-01-01', '2100-01-01');
