-- Keep a episode response; an id that failed before and now answers is no longer failed.
WITH stored AS (
    INSERT INTO staging.spotify_episode_data (spotify_episode_uri, raw_data)
    VALUES (%(uri)s, %(raw)s)
    ON CONFLICT (spotify_episode_uri) DO NOTHING
)
DELETE FROM etl_internal.failed_uris WHERE uri = %(uri)s;
