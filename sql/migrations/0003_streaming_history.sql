-- staging.streaming_history: one row per unique play, typed, from every form of export.

CREATE TABLE staging.streaming_history (
    play_id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    listener                 text        NOT NULL,
    -- When the stream ended (UTC). Account data has it to the minute only (ts_precision).
    ts                       timestamptz NOT NULL,
    ms_played                bigint      CHECK (ms_played >= 0),
    content_kind             text        NOT NULL
        CHECK (content_kind IN ('track', 'episode', 'audiobook', 'local', 'unknown')),
    -- The content part of the natural key: the URI, else the names (see name_key), else ''.
    content_key              text        NOT NULL,
    -- The names that identify the content, to match account data with extended history.
    name_key                 text,
    spotify_track_uri        text,
    spotify_episode_uri      text,
    audiobook_uri            text,
    audiobook_chapter_uri    text,
    track_name               text,
    artist_name              text,
    album_name               text,
    episode_name             text,
    show_name                text,
    audiobook_title          text,
    audiobook_chapter_title  text,
    platform                 text,
    conn_country             text,
    reason_start             text,
    reason_end               text,
    shuffle                  boolean,
    skipped                  boolean,
    offline                  boolean,
    offline_at               timestamptz,
    incognito_mode           boolean,
    is_video                 boolean     NOT NULL DEFAULT false,
    -- Personal data, stored only when SPOTIFY_ETL_KEEP_PERSONAL_DATA is set.
    ip_addr                  text,
    user_agent               text,
    username                 text,
    source_format            text        NOT NULL CHECK (source_format IN ('extended', 'account')),
    ts_precision             text        NOT NULL CHECK (ts_precision IN ('second', 'minute')),
    -- The file the play was first read from (etl_internal.source_files). Not a foreign key:
    -- the row and its file are written in one transaction, and a per-row FK check costs
    -- a third of the merge.
    source_file_id           bigint      NOT NULL,
    source_position          bigint      NOT NULL,
    -- Keys of the record this version of the pipeline does not know; null when none.
    extra                    jsonb,
    loaded_at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT streaming_history_natural_key
        UNIQUE NULLS NOT DISTINCT (listener, ts, content_key, ms_played)
);
COMMENT ON TABLE staging.streaming_history IS
    'One row per unique play (natural key: listener, ts, content, ms_played); never truncated';

-- Account-data rows are few; they are matched against extended history by minute and names.
CREATE INDEX streaming_history_account_idx
    ON staging.streaming_history (listener, ts, name_key, ms_played)
    WHERE source_format = 'account';
