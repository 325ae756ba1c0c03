-- Keep a track response, and the simplified album it carries (albums cost no request).
WITH track AS (
    INSERT INTO staging.spotify_track_data (spotify_track_uri, raw_data)
    VALUES (%(uri)s, %(raw)s)
    ON CONFLICT (spotify_track_uri) DO NOTHING
    RETURNING raw_data
), album AS (
    INSERT INTO staging.spotify_album_data (spotify_album_uri, raw_data)
    SELECT etl_internal.json_text(raw_data -> 'album' -> 'uri'), raw_data -> 'album' FROM track
    WHERE etl_internal.json_text(raw_data -> 'album' -> 'uri') IS NOT NULL
    ON CONFLICT (spotify_album_uri) DO NOTHING
)
DELETE FROM etl_internal.failed_uris WHERE uri = %(uri)s;
