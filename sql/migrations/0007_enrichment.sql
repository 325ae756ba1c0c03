-- Enrichment through the Spotify Web API: responses kept as jsonb (the cache: never
-- truncated, so no id is fetched twice), failures and the resume time after a rate limit.

CREATE TABLE staging.spotify_track_data (
    spotify_track_uri  text PRIMARY KEY,
    raw_data           jsonb       NOT NULL,
    fetched_at         timestamptz NOT NULL DEFAULT now(),
    is_processed       boolean     NOT NULL DEFAULT false
);
CREATE TABLE staging.spotify_artist_data (
    spotify_artist_uri text PRIMARY KEY,
    raw_data           jsonb       NOT NULL,
    fetched_at         timestamptz NOT NULL DEFAULT now(),
    is_processed       boolean     NOT NULL DEFAULT false
);
-- Albums come with each track response (its simplified album): no request of their own.
CREATE TABLE staging.spotify_album_data (
    spotify_album_uri  text PRIMARY KEY,
    raw_data           jsonb       NOT NULL,
    fetched_at         timestamptz NOT NULL DEFAULT now(),
    is_processed       boolean     NOT NULL DEFAULT false
);
CREATE TABLE staging.spotify_episode_data (
    spotify_episode_uri text PRIMARY KEY,
    raw_data            jsonb       NOT NULL,
    fetched_at          timestamptz NOT NULL DEFAULT now(),
    is_processed        boolean     NOT NULL DEFAULT false
);
CREATE TABLE staging.spotify_podcast_data (
    spotify_podcast_uri text PRIMARY KEY,
    raw_data            jsonb       NOT NULL,
    fetched_at          timestamptz NOT NULL DEFAULT now(),
    is_processed        boolean     NOT NULL DEFAULT false
);

CREATE TABLE etl_internal.failed_uris (
    uri              text PRIMARY KEY,
    entity_type      text        NOT NULL,   -- track, artist, episode, podcast
    reason           text        NOT NULL,
    http_status      integer,
    attempts         integer     NOT NULL DEFAULT 1,
    permanent        boolean     NOT NULL,   -- not found / invalid: never asked again
    first_failed_at  timestamptz NOT NULL DEFAULT now(),
    last_failed_at   timestamptz NOT NULL DEFAULT now(),
    next_attempt_at  timestamptz              -- null when permanent
);
COMMENT ON TABLE etl_internal.failed_uris IS
    'URIs the API could not resolve: permanent ones are not asked again, transient ones later';

CREATE TABLE etl_internal.api_resume_state (
    api         text PRIMARY KEY,            -- 'spotify'
    resume_at   timestamptz NOT NULL,
    reason      text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE etl_internal.api_resume_state IS
    'When the API may be asked again after a long rate limit or an exhausted daily quota';

-- A date from text, or null when it is no valid date (Spotify sends '0000', and worse).
CREATE FUNCTION etl_internal.try_date(value text) RETURNS date
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN value::date;
EXCEPTION WHEN others THEN
    RETURN NULL;
END;
$$;
