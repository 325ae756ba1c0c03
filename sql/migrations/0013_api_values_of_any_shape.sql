-- Reading the API cache into the dimensions whatever shape a response has: a field present,
-- absent, null, empty, of another type or case. The transforms read fields through these
-- functions, which answer NULL for a value they cannot use instead of failing the statement
-- (one odd response used to stop every later build, since it stays in the cache).

-- The value as text when it is a JSON string, else NULL.
CREATE FUNCTION etl_internal.json_text(value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'string' THEN value #>> '{}' END
$$;

-- The value as an integer when it is a whole JSON number within integer range, else NULL.
CREATE FUNCTION etl_internal.json_int(value jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'number'
                 AND (value #>> '{}')::numeric = trunc((value #>> '{}')::numeric)
                 AND (value #>> '{}')::numeric BETWEEN -2147483648 AND 2147483647
                THEN (value #>> '{}')::numeric::integer END
$$;

-- The value as a boolean when it is a JSON boolean, else NULL.
CREATE FUNCTION etl_internal.json_bool(value jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'boolean' THEN (value #>> '{}')::boolean END
$$;

-- The value when it is a JSON array, else an empty one: safe for jsonb_array_elements.
CREATE FUNCTION etl_internal.json_array(value jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'array' THEN value ELSE '[]'::jsonb END
$$;

-- The strings of a JSON array (other elements left out); NULL when the value is no array
-- (absent or null: unknown, which is not the same as an empty list).
CREATE FUNCTION etl_internal.json_text_array(value jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'array'
                THEN ARRAY(SELECT e #>> '{}' FROM jsonb_array_elements(value) AS e
                           WHERE jsonb_typeof(e) = 'string')
           END
$$;

-- A release date as Spotify writes it, by its shape: 'YYYY-MM-DD', 'YYYY-MM' (the 1st of the
-- month) or 'YYYY' (1 January); the '0000' placeholder and anything else: NULL.
CREATE FUNCTION etl_internal.release_date(value text) RETURNS date
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN value ~ '^0000' THEN NULL
        WHEN value ~ '^\d{4}-\d{2}-\d{2}$' THEN etl_internal.try_date(value)
        WHEN value ~ '^\d{4}-\d{2}$' THEN etl_internal.try_date(value || '-01')
        WHEN value ~ '^\d{4}$' THEN etl_internal.try_date(value || '-01-01')
    END
$$;

-- The precision of a release date: the stated one, in lower case, when it is day, month or
-- year; otherwise the one its shape shows; NULL without a date.
CREATE FUNCTION etl_internal.release_date_precision(value text, stated text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN lower(stated) IN ('day', 'month', 'year') THEN lower(stated)
        WHEN value ~ '^\d{4}-\d{2}-\d{2}$' THEN 'day'
        WHEN value ~ '^\d{4}-\d{2}$' THEN 'month'
        WHEN value ~ '^\d{4}$' THEN 'year'
    END
$$;

-- Why a value cannot be used as `expected` (text, integer, boolean, text_array, array,
-- release_date, precision, album_type), or NULL when it can, or when it is absent or null
-- (optional everywhere: the API description makes few fields required, and development-mode
-- apps lose some).
CREATE FUNCTION etl_internal.json_issue(value jsonb, expected text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN value IS NULL OR jsonb_typeof(value) = 'null' THEN NULL
        WHEN expected = 'text' AND jsonb_typeof(value) <> 'string' THEN 'not a string'
        WHEN expected = 'integer' AND etl_internal.json_int(value) IS NULL THEN 'not a whole number in range'
        WHEN expected = 'boolean' AND jsonb_typeof(value) <> 'boolean' THEN 'not a boolean'
        WHEN expected IN ('array', 'text_array') AND jsonb_typeof(value) <> 'array' THEN 'not an array'
        WHEN expected = 'text_array'
             AND EXISTS (SELECT 1 FROM jsonb_array_elements(value) AS e WHERE jsonb_typeof(e) <> 'string')
             THEN 'holds elements that are not strings (left out)'
        WHEN expected = 'release_date' AND jsonb_typeof(value) <> 'string' THEN 'not a string'
        WHEN expected = 'release_date' AND value #>> '{}' ~ '^0000' THEN 'placeholder date 0000 (unknown)'
        WHEN expected = 'release_date' AND etl_internal.release_date(value #>> '{}') IS NULL
             THEN 'not a date of day, month or year precision'
        WHEN expected = 'precision' AND lower(value #>> '{}') NOT IN ('day', 'month', 'year')
             THEN 'not day, month or year (read from the date''s shape)'
        WHEN expected = 'album_type' AND lower(value #>> '{}') NOT IN ('album', 'single', 'compilation')
             THEN 'not album, single or compilation (kept, in lower case)'
    END
$$;

-- The fields of the API's answers that the dimensions use: one source for the transforms'
-- expectations, the etl_internal.api_value_issues view and the api_values_usable check.
-- `required`: a field the check expects to be usable in at least one answer of its entity
-- (losing a whole column shows), not one every answer must have.
CREATE TABLE etl_internal.api_fields (
    entity   text NOT NULL,
    field    text NOT NULL,
    expected text NOT NULL,
    required boolean NOT NULL,
    PRIMARY KEY (entity, field)
);
INSERT INTO etl_internal.api_fields (entity, field, expected, required) VALUES
    ('track', 'name', 'text', true),
    ('track', 'duration_ms', 'integer', true),
    ('track', 'explicit', 'boolean', true),
    ('track', 'external_ids.isrc', 'text', true),
    ('track', 'artists', 'array', true),
    ('track', 'album.name', 'text', true),
    ('track', 'album.uri', 'text', true),
    ('track', 'album.album_type', 'album_type', true),
    ('track', 'album.release_date', 'release_date', true),
    ('track', 'album.release_date_precision', 'precision', false),
    ('track', 'album.images', 'array', false),
    ('artist', 'name', 'text', true),
    ('artist', 'genres', 'text_array', false),
    ('artist', 'images', 'array', false),
    ('episode', 'name', 'text', true),
    ('episode', 'duration_ms', 'integer', true),
    ('episode', 'release_date', 'release_date', true),
    ('episode', 'release_date_precision', 'precision', false),
    ('episode', 'languages', 'text_array', false),
    ('episode', 'show.uri', 'text', true),
    ('podcast', 'name', 'text', true),
    ('podcast', 'description', 'text', false),
    ('podcast', 'images', 'array', false),
    ('podcast', 'total_episodes', 'integer', false);

-- Episodes keep their release date's precision too, as tracks do.
ALTER TABLE core.dim_episode
    ADD COLUMN release_date_precision text,
    ADD COLUMN release_date_malformed boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN core.dim_episode.release_date_precision IS 'day, month or year: how much of release_date is known';
COMMENT ON COLUMN core.dim_episode.release_date_malformed IS 'the API gave a release date that is no date (or the 0000 placeholder)';
