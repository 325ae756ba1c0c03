-- The known reason vocabulary, then any other value met in the data (kept, marked unknown).
INSERT INTO core.dim_reason (reason_code, description, reason_group, is_known)
VALUES
    ('trackdone', 'The track played to its end', 'finished', true),
    ('endplay', 'Playback stopped (end of queue or stop pressed)', 'stopped', true),
    ('logout', 'The user logged out', 'stopped', true),
    ('unexpected-exit', 'The app closed unexpectedly', 'interrupted', true),
    ('unexpected-exit-while-paused', 'The app closed unexpectedly while paused', 'interrupted', true),
    ('trackerror', 'The track failed to play', 'interrupted', true),
    ('fwdbtn', 'Forward / next button', 'user action', true),
    ('nextbtn', 'Next button', 'user action', true),
    ('backbtn', 'Back / previous button', 'user action', true),
    ('clickrow', 'A row was clicked in a list', 'user action', true),
    ('clickside', 'Something in the side bar was clicked', 'user action', true),
    ('playbtn', 'Play button', 'user action', true),
    ('popup', 'Started from a pop-up', 'user action', true),
    ('uriopen', 'A Spotify link was opened', 'user action', true),
    ('appload', 'Resumed when the app loaded', 'automatic', true),
    ('reload', 'The player reloaded', 'automatic', true),
    ('switched-to-audio', 'Switched from video to audio', 'automatic', true),
    ('remote', 'Controlled from another device (Connect)', 'remote', true),
    ('unknown', 'Spotify recorded the reason as unknown', 'unknown', true)
ON CONFLICT (reason_code) DO NOTHING;

INSERT INTO core.dim_reason (reason_code, description, reason_group, is_known)
SELECT DISTINCT code, 'Reason not in the known vocabulary: ' || code, 'other', false
FROM new_plays,
     LATERAL (VALUES (reason_start), (reason_end)) AS r(code)
WHERE code IS NOT NULL
-- Ids are drawn in this order: the same plays give the same ids, whatever the plan.
ORDER BY 1
ON CONFLICT (reason_code) DO NOTHING;

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_reason;
