-- Artist URIs named by fetched tracks, to fetch; weighted by the plays of their tracks.
WITH track_plays AS (
    SELECT spotify_track_uri, count(*) AS plays
    FROM staging.streaming_history WHERE content_kind = 'track' GROUP BY 1
), artists AS (
    SELECT etl_internal.json_text(a.artist -> 'uri') AS uri, sum(coalesce(p.plays, 0)) AS plays
    FROM staging.spotify_track_data AS t
    CROSS JOIN LATERAL jsonb_array_elements(etl_internal.json_array(t.raw_data -> 'artists')) AS a(artist)
    LEFT JOIN track_plays AS p ON p.spotify_track_uri = t.spotify_track_uri
    WHERE etl_internal.json_text(a.artist -> 'uri') IS NOT NULL
    GROUP BY 1
)
SELECT artists.uri
FROM artists
LEFT JOIN staging.spotify_artist_data AS c ON c.spotify_artist_uri = artists.uri
LEFT JOIN etl_internal.failed_uris AS f ON f.uri = artists.uri
WHERE c.spotify_artist_uri IS NULL
  AND (f.uri IS NULL OR (NOT f.permanent AND f.next_attempt_at <= now()))
ORDER BY artists.plays DESC, artists.uri;
