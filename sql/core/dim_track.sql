-- Tracks as the export names them (the latest play's names), keyed by URI, or by names for
-- local files and plays without an id (account data, the 2020 vintage). Enrichment fills the other columns in place.
INSERT INTO core.dim_track (track_key, spotify_track_uri, track_name, artist_name, artist_id, album_name, is_local)
SELECT DISTINCT ON (s.content_key)
       s.content_key,
       CASE WHEN s.content_kind = 'track' THEN s.spotify_track_uri END,
       coalesce(s.track_name, s.spotify_track_uri, 'Unnamed track'),
       s.artist_name,
       coalesce(a.artist_id, 0),
       s.album_name,
       s.content_kind = 'local'
FROM new_plays AS s
LEFT JOIN core.dim_artist AS a ON a.artist_key = 'name:' || s.artist_name
WHERE s.content_kind IN ('track', 'local')
ORDER BY s.content_key, s.ts DESC
ON CONFLICT (track_key) DO NOTHING;

-- A track chosen for a name pair (etl_internal.name_matches) is a member keyed by its URI like
-- any played track, named as the export names it until enrichment fills it in; the facts count
-- the pair's plays there.
INSERT INTO core.dim_track (track_key, spotify_track_uri, track_name, artist_name, album_name)
SELECT DISTINCT ON (m.spotify_uri) m.spotify_uri, m.spotify_uri, named.track_name, named.artist_name,
       named.album_name
FROM etl_internal.name_matches AS m
JOIN core.dim_track AS named ON named.track_key = m.name_key
WHERE m.kind = 'track' AND m.spotify_uri IS NOT NULL AND NOT m.applied
ORDER BY m.spotify_uri, m.name_key
ON CONFLICT DO NOTHING;


-- What the API says of each fetched track, in place. Values are read through the
-- etl_internal.json_* functions (see dim_artist.sql). A release date is read at its precision
-- (day, month, year); '0000' or a malformed date is NULL plus a flag, never 1900-01-01. An
-- album type in another case (seen in real answers) is kept in lower case.
WITH fetched AS (
UPDATE core.dim_track AS d
SET track_name = coalesce(etl_internal.json_text(c.raw_data -> 'name'), d.track_name),
    artist_id = coalesce(primary_artist.artist_id, d.artist_id),
    album_name = coalesce(etl_internal.json_text(c.raw_data -> 'album' -> 'name'), d.album_name),
    spotify_album_uri = etl_internal.json_text(c.raw_data -> 'album' -> 'uri'),
    album_type = lower(etl_internal.json_text(c.raw_data -> 'album' -> 'album_type')),
    release_date = released.date,
    release_date_precision = etl_internal.release_date_precision(
        released.value, etl_internal.json_text(c.raw_data -> 'album' -> 'release_date_precision')),
    release_date_malformed = released.value IS NOT NULL AND released.date IS NULL,
    cover_url = etl_internal.json_text(c.raw_data -> 'album' -> 'images' -> 0 -> 'url'),
    duration_ms = etl_internal.json_int(c.raw_data -> 'duration_ms'),
    explicit = etl_internal.json_bool(c.raw_data -> 'explicit'),
    isrc = etl_internal.json_text(c.raw_data -> 'external_ids' -> 'isrc'),
    enriched_at = c.fetched_at
FROM staging.spotify_track_data AS c
LEFT JOIN core.dim_artist AS primary_artist
       ON primary_artist.spotify_artist_uri = etl_internal.json_text(c.raw_data -> 'artists' -> 0 -> 'uri')
CROSS JOIN LATERAL (SELECT v.value, etl_internal.release_date(v.value) AS date
                    FROM (SELECT etl_internal.json_text(c.raw_data -> 'album' -> 'release_date') AS value) AS v) AS released
WHERE d.spotify_track_uri = c.spotify_track_uri
  AND d.enriched_at IS DISTINCT FROM c.fetched_at
RETURNING d.track_key
)
-- A fetched duration or artist changes the facts of every month holding its plays (by id, or
-- by names chosen for it).
INSERT INTO changed_months
SELECT DISTINCT to_char(s.ts AT TIME ZONE 'UTC', 'YYYY-MM')
FROM staging.streaming_history AS s
JOIN fetched AS f ON f.track_key = s.content_key
UNION
SELECT to_char(s.ts AT TIME ZONE 'UTC', 'YYYY-MM')
FROM etl_internal.name_matches AS m
JOIN fetched AS f ON f.track_key = m.spotify_uri
JOIN staging.streaming_history AS s ON s.name_key = m.name_key
WHERE s.content_kind = 'track' AND s.spotify_track_uri IS NULL AND s.spotify_episode_uri IS NULL;

-- So does a new or changed choice for a name pair; then it is applied.
INSERT INTO changed_months
SELECT DISTINCT to_char(s.ts AT TIME ZONE 'UTC', 'YYYY-MM')
FROM etl_internal.name_matches AS m
JOIN staging.streaming_history AS s ON s.name_key = m.name_key
WHERE m.kind = 'track' AND NOT m.applied
  AND s.content_kind = 'track' AND s.spotify_track_uri IS NULL AND s.spotify_episode_uri IS NULL;
UPDATE etl_internal.name_matches SET applied = true WHERE kind = 'track' AND NOT applied;

-- Every artist of each fetched track, in credit order.
INSERT INTO core.bridge_track_artist (track_id, artist_id, position)
SELECT d.track_id, a.artist_id, (credit.position - 1)::integer
FROM core.dim_track AS d
JOIN staging.spotify_track_data AS c ON c.spotify_track_uri = d.spotify_track_uri
CROSS JOIN LATERAL jsonb_array_elements(etl_internal.json_array(c.raw_data -> 'artists'))
     WITH ORDINALITY AS credit(artist, position)
JOIN core.dim_artist AS a ON a.spotify_artist_uri = etl_internal.json_text(credit.artist -> 'uri')
ON CONFLICT (track_id, position) DO UPDATE SET artist_id = excluded.artist_id;


-- The responses (and their albums) are now in the dimension.
UPDATE staging.spotify_track_data SET is_processed = true WHERE NOT is_processed;
UPDATE staging.spotify_album_data SET is_processed = true WHERE NOT is_processed;

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_track;
