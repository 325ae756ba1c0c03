-- Plays in staging by listener and kind, with their date range.
SELECT listener, content_kind, count(*) AS plays, min(ts) AS first_play, max(ts) AS last_play,
       round(sum(ms_played) / 3600000.0, 1) AS hours
FROM staging.streaming_history
GROUP BY listener, content_kind
ORDER BY listener, plays DESC;
