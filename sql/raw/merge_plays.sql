-- Merge one file's plays into staging; a play already stored (same natural key) is a duplicate.
-- Returns (stored, duplicates, months of the plays stored as YYYY-MM in UTC), counted by the
-- server from what happened: the rows inserted,
-- and the rows of the load table that were not (ON CONFLICT DO NOTHING declines only a
-- conflict; a file's positions are unique, so those are its rows less the ones inserted).
-- Neither depends on the parser's count of records read, which they must add up to.
WITH inserted AS (
INSERT INTO staging.streaming_history (
    listener, ts, ms_played, content_kind, content_key, name_key,
    spotify_track_uri, spotify_episode_uri, audiobook_uri, audiobook_chapter_uri,
    track_name, artist_name, album_name, episode_name, show_name,
    audiobook_title, audiobook_chapter_title,
    platform, conn_country, reason_start, reason_end,
    shuffle, skipped, offline, offline_at, incognito_mode, is_video,
    ip_addr, user_agent, username,
    source_format, ts_precision, source_position, extra, source_file_id
)
SELECT
    listener, ts, ms_played, content_kind, content_key, name_key,
    -- Spotify writes "" as often as null for an absent value; both are stored as NULL.
    NULLIF(spotify_track_uri, ''), NULLIF(spotify_episode_uri, ''),
    NULLIF(audiobook_uri, ''), NULLIF(audiobook_chapter_uri, ''),
    NULLIF(track_name, ''), NULLIF(artist_name, ''), NULLIF(album_name, ''),
    NULLIF(episode_name, ''), NULLIF(show_name, ''),
    NULLIF(audiobook_title, ''), NULLIF(audiobook_chapter_title, ''),
    NULLIF(platform, ''), NULLIF(conn_country, ''), NULLIF(reason_start, ''), NULLIF(reason_end, ''),
    shuffle, skipped, offline, offline_at, incognito_mode, is_video,
    ip_addr, user_agent, username,
    source_format, ts_precision, source_position, extra, %(source_file_id)s
FROM load_plays
ORDER BY source_position
ON CONFLICT ON CONSTRAINT streaming_history_natural_key DO NOTHING
RETURNING ts
)
SELECT stored, (SELECT count(*) FROM load_plays) - stored,
       coalesce((SELECT array_agg(DISTINCT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM')) FROM inserted), '{}')
FROM (SELECT count(*) AS stored FROM inserted) AS i;
