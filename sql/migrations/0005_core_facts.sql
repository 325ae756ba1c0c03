-- core facts: one row per play, by calendar month of ts (UTC) a Dagster partition.
-- Dimension keys are not foreign keys (checked by asset checks instead): a month reload
-- deletes and inserts ~10k rows, and per-row FK triggers would dominate it.

CREATE TABLE core.fact_listening_sessions (
    session_id        bigint      PRIMARY KEY,   -- play_id of the session's first play
    listener          text        NOT NULL,
    session_start     timestamptz NOT NULL,
    session_end       timestamptz NOT NULL,
    plays             integer     NOT NULL,
    minutes_played    numeric     NOT NULL,
    length_category   text        NOT NULL       -- short < 15 min, medium < 60, long < 180, marathon
);
COMMENT ON TABLE core.fact_listening_sessions IS
    'Runs of plays of one listener with gaps under the session gap (default 30 minutes)';

CREATE TABLE core.play_session (
    play_id     bigint PRIMARY KEY,
    session_id  bigint NOT NULL
);
COMMENT ON TABLE core.play_session IS 'Which session each staged play belongs to';

CREATE TABLE core.fact_tracks_history (
    play_id           bigint      PRIMARY KEY,   -- staging.streaming_history.play_id
    listener          text        NOT NULL,
    ts                timestamptz NOT NULL,      -- when the stream ended (Spotify's ts)
    ts_local          timestamp   NOT NULL,
    time_zone         text        NOT NULL,
    date_id           integer     NOT NULL,
    time_id           integer     NOT NULL,
    track_id          integer     NOT NULL,
    artist_id         integer     NOT NULL,
    reason_start_id   integer     NOT NULL,
    reason_end_id     integer     NOT NULL,
    platform_id       integer     NOT NULL,
    conn_country      text,
    ms_played         bigint,
    percent_played    numeric(5, 4),
    play_category     text        NOT NULL,
    skipped           boolean,
    is_skip           boolean     NOT NULL,
    shuffle           boolean,
    offline           boolean,
    offline_at        timestamptz,
    incognito         boolean,
    is_local          boolean     NOT NULL,
    is_video          boolean     NOT NULL,
    session_id        bigint,
    CONSTRAINT fact_tracks_history_natural_key UNIQUE NULLS NOT DISTINCT (listener, ts, track_id, ms_played)
);
CREATE INDEX fact_tracks_history_ts_idx ON core.fact_tracks_history (ts);

CREATE TABLE core.fact_podcasts_history (
    play_id           bigint      PRIMARY KEY,
    listener          text        NOT NULL,
    ts                timestamptz NOT NULL,
    ts_local          timestamp   NOT NULL,
    time_zone         text        NOT NULL,
    date_id           integer     NOT NULL,
    time_id           integer     NOT NULL,
    episode_id        integer     NOT NULL,
    podcast_id        integer     NOT NULL,
    reason_start_id   integer     NOT NULL,
    reason_end_id     integer     NOT NULL,
    platform_id       integer     NOT NULL,
    conn_country      text,
    ms_played         bigint,
    percent_played    numeric(5, 4),
    play_category     text        NOT NULL,
    skipped           boolean,
    is_skip           boolean     NOT NULL,
    shuffle           boolean,
    offline           boolean,
    offline_at        timestamptz,
    incognito         boolean,
    is_video          boolean     NOT NULL,
    session_id        bigint,
    CONSTRAINT fact_podcasts_history_natural_key UNIQUE NULLS NOT DISTINCT (listener, ts, episode_id, ms_played)
);
CREATE INDEX fact_podcasts_history_ts_idx ON core.fact_podcasts_history (ts);
