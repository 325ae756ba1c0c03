-- Every field the dimensions read (etl_internal.api_fields) of every cached API answer: the
-- answer's URI, the value (cut to 200 characters) and whether it can be used: 'usable',
-- 'absent' (missing or null: optional everywhere), or why not. Derived from the cache, so
-- never out of date; the transforms read an unusable value as NULL (or convert it) instead
-- of failing, and the api_values_usable check reports them.
CREATE VIEW etl_internal.api_values AS
WITH answers AS (
    SELECT 'track' AS entity, spotify_track_uri AS uri, raw_data FROM staging.spotify_track_data
    UNION ALL
    SELECT 'artist', spotify_artist_uri, raw_data FROM staging.spotify_artist_data
    UNION ALL
    SELECT 'episode', spotify_episode_uri, raw_data FROM staging.spotify_episode_data
    UNION ALL
    SELECT 'podcast', spotify_podcast_uri, raw_data FROM staging.spotify_podcast_data
)
SELECT a.entity, a.uri, f.field, f.required, left(v.value::text, 200) AS value,
       CASE WHEN v.value IS NULL OR jsonb_typeof(v.value) = 'null' THEN 'absent'
            ELSE coalesce(etl_internal.json_issue(v.value, f.expected), 'usable') END AS state
FROM answers AS a
JOIN etl_internal.api_fields AS f ON f.entity = a.entity
CROSS JOIN LATERAL (SELECT a.raw_data #> string_to_array(f.field, '.') AS value) AS v;
