-- Rebuild the listening sessions: a listener's plays, ordered by start (ts - ms_played),
-- form one session while each starts less than %(gap_seconds)s after the previous ended.
-- A session's id is its first play's play_id, so it is stable as long as its plays are.
-- Its length category's bounds are parameters (spotify_etl/defs/core/listening_sessions.py).
TRUNCATE core.play_session, core.fact_listening_sessions;

CREATE TEMP TABLE session_plays ON COMMIT DROP AS
WITH plays AS (
    SELECT play_id, listener, ts,
           ts - make_interval(secs => coalesce(ms_played, 0) / 1000.0) AS started,
           coalesce(ms_played, 0) AS ms_played
    FROM staging.streaming_history
), marked AS (
    SELECT *,
           CASE WHEN started - lag(ts) OVER w <= make_interval(secs => %(gap_seconds)s)
                THEN 0 ELSE 1 END AS starts_session
    FROM plays
    WINDOW w AS (PARTITION BY listener ORDER BY started, play_id)
), numbered AS (
    SELECT *, sum(starts_session) OVER (PARTITION BY listener ORDER BY started, play_id) AS n
    FROM marked
)
SELECT play_id, listener, ts, started, ms_played,
       first_value(play_id) OVER (PARTITION BY listener, n ORDER BY started, play_id) AS session_id
FROM numbered;

INSERT INTO core.play_session (play_id, session_id)
SELECT play_id, session_id FROM session_plays;

INSERT INTO core.fact_listening_sessions
    (session_id, listener, session_start, session_end, plays, minutes_played, length_category)
SELECT session_id, listener, min(started), max(ts), count(*),
       round(sum(ms_played) / 60000.0, 2),
       CASE WHEN max(ts) - min(started) < make_interval(mins => %(short_below_minutes)s) THEN 'short'
            WHEN max(ts) - min(started) < make_interval(mins => %(medium_below_minutes)s) THEN 'medium'
            WHEN max(ts) - min(started) < make_interval(mins => %(long_below_minutes)s) THEN 'long'
            ELSE 'marathon' END
FROM session_plays
GROUP BY session_id, listener;

-- Fresh statistics for the fact loads that join these.
ANALYZE core.play_session;
ANALYZE core.fact_listening_sessions;
