-- Every track with what version matching needs: title, primary artist (the API's when
-- enriched, else the export's album artist), ISRC, release date and plays.
SELECT t.track_id, t.spotify_track_uri, t.track_name,
       coalesce(a.artist_name, t.artist_name) AS artist,
       t.isrc, t.release_date, coalesce(p.plays, 0) AS plays
FROM core.dim_track AS t
LEFT JOIN core.dim_artist AS a ON a.artist_id = t.artist_id AND a.artist_id <> 0
LEFT JOIN (
    SELECT content_key, count(*) AS plays FROM staging.streaming_history
    WHERE content_kind IN ('track', 'local') GROUP BY content_key
) AS p ON p.content_key = t.track_key
WHERE t.track_id <> 0
ORDER BY t.track_id;
