-- Keep a search's answers for a name pair (its pages, in order); a pair that failed before and
-- now answers is no longer failed.
WITH stored AS (
    INSERT INTO staging.spotify_search_data (name_key, query, raw_data, requests)
    VALUES (%(name_key)s, %(query)s, %(raw)s, %(requests)s)
    ON CONFLICT (name_key) DO UPDATE
    SET query = excluded.query, raw_data = excluded.raw_data, requests = excluded.requests, fetched_at = now()
)
DELETE FROM etl_internal.failed_uris WHERE uri = %(name_key)s;
