-- Plays without a Spotify id (account data, the 2020 vintage of extended history) resolved by
-- name through the Search API: every distinct name pair is searched once, ever (its answer
-- kept as jsonb, like the other caches), and the decision taken from that answer is kept with
-- the rule that took it, so that better rules or a manual override re-decide without asking
-- the API again.

-- The plays that have names but no id, by name pair: small beside the whole table.
CREATE INDEX streaming_history_names_without_id_idx ON staging.streaming_history (name_key)
    WHERE content_kind IN ('track', 'episode') AND spotify_track_uri IS NULL AND spotify_episode_uri IS NULL;

CREATE TABLE staging.spotify_search_data (
    -- The name pair as staging keys it: 'track:<artist>\x1f<title>' or 'episode:<show>\x1f<episode>'.
    name_key     text PRIMARY KEY,
    query        text        NOT NULL,    -- the q= sent
    raw_data     jsonb       NOT NULL,    -- {"pages": [the API's answers, in order]}
    requests     integer     NOT NULL,
    fetched_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE staging.spotify_search_data IS
    'Search API answers per name pair (never truncated: no pair is searched twice)';

CREATE TABLE etl_internal.name_matches (
    name_key     text PRIMARY KEY,
    kind         text        NOT NULL CHECK (kind IN ('track', 'episode')),
    -- The chosen item; null when none was chosen (status says why).
    spotify_uri  text,
    status       text        NOT NULL
        CHECK (status IN ('matched', 'not_found', 'ambiguous', 'pinned', 'forbidden')),
    rule         text        NOT NULL,    -- the rule that chose, or the reason none was chosen
    score        numeric(4, 3),
    candidates   integer     NOT NULL DEFAULT 0,
    decided_at   timestamptz NOT NULL DEFAULT now(),
    -- Taken into the dimensions (the months of its plays reloaded) since it last changed.
    applied      boolean     NOT NULL DEFAULT false,
    CHECK ((spotify_uri IS NOT NULL) = (status IN ('matched', 'pinned')))
);
COMMENT ON TABLE etl_internal.name_matches IS
    'Name pairs without an id: the Spotify item chosen for them (or why none), by which rule';

-- Music plays of the 2020 vintage of endsong_*.json (no URI fields at all) were stored as
-- local files; they are tracks known by their names. Such a file is recognised by holding no
-- play with an id; a local file in a file with ids stays local.
WITH files_without_ids AS (
    SELECT source_file_id
    FROM staging.streaming_history
    WHERE source_format = 'extended'
    GROUP BY source_file_id
    HAVING count(spotify_track_uri) = 0 AND count(spotify_episode_uri) = 0
), reclassified AS (
    UPDATE staging.streaming_history AS s SET content_kind = 'track'
    FROM files_without_ids AS f
    WHERE s.source_file_id = f.source_file_id AND s.content_kind = 'local' AND s.spotify_track_uri IS NULL
    RETURNING s.content_key
)
UPDATE core.dim_track AS t SET is_local = false
WHERE t.track_key IN (SELECT content_key FROM reclassified) AND t.spotify_track_uri IS NULL;
