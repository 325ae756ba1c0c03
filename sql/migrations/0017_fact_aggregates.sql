-- Aggregates of the play facts, kept with them: the mart's views (and so the report) read these
-- small tables instead of every play. A fact's load of some months replaces its rows of those
-- months here, in the same transaction (mart.refresh_fact_aggregates, called by
-- sql/core/fact_*.sql), so they never disagree with the facts. fact_month is the UTC month of
-- the fact's partition the rows were built from (what a reload replaces), not the local month
-- of the plays; every other column is the plays' own local date, hour or year, as the views
-- had them. Sums over fact_month give what the views computed from the facts, exactly.

-- Plays per local date: minutes per month, skip rate per month, the year's numbers.
CREATE TABLE mart.daily_listening (
    fact_month date NOT NULL,
    kind text NOT NULL CHECK (kind IN ('music', 'podcast')),
    listener text NOT NULL,
    date_id integer NOT NULL,
    plays bigint NOT NULL,
    skips bigint NOT NULL,
    ms_played numeric,
    PRIMARY KEY (fact_month, kind, listener, date_id)
);

-- Plays per local weekday and hour: the listening clock.
CREATE TABLE mart.weekday_hour_listening (
    fact_month date NOT NULL,
    kind text NOT NULL CHECK (kind IN ('music', 'podcast')),
    listener text NOT NULL,
    day_of_week integer NOT NULL,
    hour integer NOT NULL,
    plays bigint NOT NULL,
    ms_played numeric,
    PRIMARY KEY (fact_month, kind, listener, day_of_week, hour)
);

-- Music plays per reason they started: skip rate by reason.
CREATE TABLE mart.start_reason_listening (
    fact_month date NOT NULL,
    listener text NOT NULL,
    reason_start_id integer NOT NULL,
    plays bigint NOT NULL,
    skips bigint NOT NULL,
    PRIMARY KEY (fact_month, listener, reason_start_id)
);

-- Music plays per local year and track (with the artist the play counted for): rankings,
-- genres, distinct tracks and artists, first plays of an artist.
CREATE TABLE mart.track_years (
    fact_month date NOT NULL,
    listener text NOT NULL,
    year integer NOT NULL,
    track_id integer NOT NULL,
    artist_id integer NOT NULL,
    plays bigint NOT NULL,
    ms_played numeric,
    first_played timestamp NOT NULL,  -- local time
    PRIMARY KEY (fact_month, listener, year, track_id, artist_id)
);

-- Replace a fact's aggregates of the months of [first_ts, end_ts) (month starts, UTC) with
-- those of its rows now: both facts keep the per-date and per-hour ones (with their kind), the
-- music fact also those of start reasons and tracks.
CREATE FUNCTION mart.refresh_fact_aggregates(fact regclass, first_ts timestamptz, end_ts timestamptz)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    fact_kind text := CASE fact WHEN 'core.fact_tracks_history'::regclass THEN 'music'
                                WHEN 'core.fact_podcasts_history'::regclass THEN 'podcast' END;
    first_month date := date_trunc('month', first_ts AT TIME ZONE 'UTC')::date;
    end_month date := date_trunc('month', end_ts AT TIME ZONE 'UTC')::date;
BEGIN
    IF fact_kind IS NULL THEN
        RAISE EXCEPTION 'no aggregates are kept for %', fact;
    END IF;
    DELETE FROM mart.daily_listening AS a
    WHERE a.kind = fact_kind AND a.fact_month >= first_month AND a.fact_month < end_month;
    DELETE FROM mart.weekday_hour_listening AS a
    WHERE a.kind = fact_kind AND a.fact_month >= first_month AND a.fact_month < end_month;

    EXECUTE format($sql$
        INSERT INTO mart.daily_listening (fact_month, kind, listener, date_id, plays, skips, ms_played)
        SELECT date_trunc('month', f.ts AT TIME ZONE 'UTC')::date, %L, f.listener, f.date_id,
               count(*), count(*) FILTER (WHERE f.is_skip), sum(f.ms_played)
        FROM %s AS f
        WHERE f.ts >= $1 AND f.ts < $2
        GROUP BY 1, 3, 4
    $sql$, fact_kind, fact) USING first_ts, end_ts;

    EXECUTE format($sql$
        INSERT INTO mart.weekday_hour_listening (fact_month, kind, listener, day_of_week, hour, plays, ms_played)
        SELECT date_trunc('month', f.ts AT TIME ZONE 'UTC')::date, %L, f.listener, d.day_of_week, tm.hour,
               count(*), sum(f.ms_played)
        FROM %s AS f
        JOIN core.dim_date AS d ON d.date_id = f.date_id
        JOIN core.dim_time AS tm ON tm.time_id = f.time_id
        WHERE f.ts >= $1 AND f.ts < $2
        GROUP BY 1, 3, 4, 5
    $sql$, fact_kind, fact) USING first_ts, end_ts;

    IF fact_kind = 'music' THEN
        DELETE FROM mart.start_reason_listening AS a WHERE a.fact_month >= first_month AND a.fact_month < end_month;
        DELETE FROM mart.track_years AS a WHERE a.fact_month >= first_month AND a.fact_month < end_month;

        INSERT INTO mart.start_reason_listening (fact_month, listener, reason_start_id, plays, skips)
        SELECT date_trunc('month', f.ts AT TIME ZONE 'UTC')::date, f.listener, f.reason_start_id,
               count(*), count(*) FILTER (WHERE f.is_skip)
        FROM core.fact_tracks_history AS f
        WHERE f.ts >= first_ts AND f.ts < end_ts
        GROUP BY 1, 2, 3;

        INSERT INTO mart.track_years (fact_month, listener, year, track_id, artist_id, plays, ms_played, first_played)
        SELECT date_trunc('month', f.ts AT TIME ZONE 'UTC')::date, f.listener,
               extract(year FROM f.ts_local)::integer, f.track_id, f.artist_id,
               count(*), sum(f.ms_played), min(f.ts_local)
        FROM core.fact_tracks_history AS f
        WHERE f.ts >= first_ts AND f.ts < end_ts
        GROUP BY 1, 2, 3, 4, 5;
    END IF;
END
$$;

-- The facts already loaded.
SELECT mart.refresh_fact_aggregates(fact, '2000-01-01', '2100-01-01')
FROM unnest(ARRAY['core.fact_tracks_history', 'core.fact_podcasts_history']::regclass[]) AS fact;
