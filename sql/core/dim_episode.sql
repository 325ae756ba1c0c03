-- Episodes as the export names them, keyed by URI (or names when there is none).
INSERT INTO core.dim_episode (episode_key, spotify_episode_uri, episode_name, podcast_id)
SELECT DISTINCT ON (s.content_key)
       s.content_key,
       s.spotify_episode_uri,
       coalesce(s.episode_name, s.spotify_episode_uri, 'Unnamed episode'),
       coalesce(p.podcast_id, 0)
FROM new_plays AS s
LEFT JOIN core.dim_podcast AS p ON p.podcast_key = 'name:' || s.show_name
WHERE s.content_kind = 'episode'
ORDER BY s.content_key, s.ts DESC
ON CONFLICT (episode_key) DO NOTHING;

-- An episode chosen for a name pair (etl_internal.name_matches) is a member keyed by its URI
-- (see dim_track.sql).
INSERT INTO core.dim_episode (episode_key, spotify_episode_uri, episode_name, podcast_id)
SELECT DISTINCT ON (m.spotify_uri) m.spotify_uri, m.spotify_uri, named.episode_name, named.podcast_id
FROM etl_internal.name_matches AS m
JOIN core.dim_episode AS named ON named.episode_key = m.name_key
WHERE m.kind = 'episode' AND m.spotify_uri IS NOT NULL AND NOT m.applied
ORDER BY m.spotify_uri, m.name_key
ON CONFLICT DO NOTHING;


-- What the API says of each fetched episode, in place (its show: the URI-keyed member).
-- Values are read through the etl_internal.json_* functions (see dim_artist.sql); a release
-- date is read at its precision (day, month, year), '0000' or no date is NULL plus a flag.
WITH fetched AS (
UPDATE core.dim_episode AS d
SET episode_name = coalesce(etl_internal.json_text(c.raw_data -> 'name'), d.episode_name),
    podcast_id = coalesce(p.podcast_id, d.podcast_id),
    duration_ms = etl_internal.json_int(c.raw_data -> 'duration_ms'),
    release_date = released.date,
    release_date_precision = etl_internal.release_date_precision(
        released.value, etl_internal.json_text(c.raw_data -> 'release_date_precision')),
    release_date_malformed = released.value IS NOT NULL AND released.date IS NULL,
    languages = etl_internal.json_text_array(c.raw_data -> 'languages'),
    enriched_at = c.fetched_at
FROM staging.spotify_episode_data AS c
CROSS JOIN LATERAL (SELECT v.value, etl_internal.release_date(v.value) AS date
                    FROM (SELECT etl_internal.json_text(c.raw_data -> 'release_date') AS value) AS v) AS released
LEFT JOIN core.dim_podcast AS p ON p.spotify_podcast_uri = etl_internal.json_text(c.raw_data -> 'show' -> 'uri')
WHERE d.spotify_episode_uri = c.spotify_episode_uri
  AND d.enriched_at IS DISTINCT FROM c.fetched_at
RETURNING d.episode_key
)
-- A fetched duration or show changes the facts of every month holding its plays (by id, or
-- by names chosen for it).
INSERT INTO changed_months
SELECT DISTINCT to_char(s.ts AT TIME ZONE 'UTC', 'YYYY-MM')
FROM staging.streaming_history AS s
JOIN fetched AS f ON f.episode_key = s.content_key
UNION
SELECT to_char(s.ts AT TIME ZONE 'UTC', 'YYYY-MM')
FROM etl_internal.name_matches AS m
JOIN fetched AS f ON f.episode_key = m.spotify_uri
JOIN staging.streaming_history AS s ON s.name_key = m.name_key
WHERE s.content_kind = 'episode' AND s.spotify_track_uri IS NULL AND s.spotify_episode_uri IS NULL;

-- So does a new or changed choice for a name pair; then it is applied.
INSERT INTO changed_months
SELECT DISTINCT to_char(s.ts AT TIME ZONE 'UTC', 'YYYY-MM')
FROM etl_internal.name_matches AS m
JOIN staging.streaming_history AS s ON s.name_key = m.name_key
WHERE m.kind = 'episode' AND NOT m.applied
  AND s.content_kind = 'episode' AND s.spotify_track_uri IS NULL AND s.spotify_episode_uri IS NULL;
UPDATE etl_internal.name_matches SET applied = true WHERE kind = 'episode' AND NOT applied;


UPDATE staging.spotify_episode_data SET is_processed = true WHERE NOT is_processed;

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_episode;
