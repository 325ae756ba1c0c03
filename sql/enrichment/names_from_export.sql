-- Name pairs the export resolves itself, without a request: the same (artist, title) or (show,
-- episode) played with an id elsewhere in staging (extended history, any listener). The id
-- played most wins; `candidates` says how many ids carried those names.
INSERT INTO etl_internal.name_matches AS m (name_key, kind, spotify_uri, status, rule, score, candidates)
SELECT DISTINCT ON (ided.name_key)
       ided.name_key, ided.kind, ided.uri, 'matched', 'same names played with an id', 1.0, ided.ids
FROM (
    SELECT s.name_key, s.content_kind AS kind, s.content_key AS uri, count(*) AS plays,
           count(*) OVER (PARTITION BY s.name_key) AS ids
    FROM staging.streaming_history AS s
    WHERE s.content_kind IN ('track', 'episode') AND s.content_key = coalesce(s.spotify_track_uri, s.spotify_episode_uri)
      AND s.name_key = ANY(%(name_keys)s)
    GROUP BY s.name_key, s.content_kind, s.content_key
) AS ided
ORDER BY ided.name_key, ided.plays DESC, ided.uri
ON CONFLICT (name_key) DO UPDATE
SET spotify_uri = excluded.spotify_uri, status = excluded.status, rule = excluded.rule, score = excluded.score,
    candidates = excluded.candidates, decided_at = now(), applied = false
RETURNING m.name_key;
