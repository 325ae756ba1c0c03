-- Keep the decision for a name pair. A decision that changes the chosen item is applied again
-- (the dimensions and the months of its plays); one that only restates it keeps its time.
INSERT INTO etl_internal.name_matches AS m (name_key, kind, spotify_uri, status, rule, score, candidates)
VALUES (%(name_key)s, %(kind)s, %(uri)s, %(status)s, %(rule)s, %(score)s, %(candidates)s)
ON CONFLICT (name_key) DO UPDATE
SET spotify_uri = excluded.spotify_uri, status = excluded.status, rule = excluded.rule,
    score = excluded.score, candidates = excluded.candidates, decided_at = now(),
    applied = m.applied AND m.spotify_uri IS NOT DISTINCT FROM excluded.spotify_uri
WHERE (m.spotify_uri, m.status, m.rule, m.score, m.candidates)
      IS DISTINCT FROM (excluded.spotify_uri, excluded.status, excluded.rule, excluded.score, excluded.candidates);
