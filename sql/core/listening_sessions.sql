-- Listening sessions: a listener's plays, ordered by start (ts - ms_played), form one session
-- while each starts at most %(gap_seconds)s after the previous one ended. A session's id is
-- its first play's play_id, so it is stable as long as its plays are. Its length category's
-- bounds are parameters (spotify_etl/defs/core/listening_sessions.py).
--
-- Built again only where new plays (the view new_plays) can change anything: for each listener
-- with new plays, from the start of the first session that ends within the gap before the
-- earliest new play (or from that play), up to the first session that starts more than the
-- gap after the latest new play ends. Both ends stay session boundaries: nothing new lies
-- within the gap of either. The months of the plays whose session changed are left in
-- changed_months: the facts of those months reload.
--
-- A play's start is ts - ms_played as an interval of milliseconds (exact: whole milliseconds),
-- written the same way wherever it is compared.
--
-- The plays rebuilt are sorted by listener and start: a new file's ~50k at 1M plays spilled to
-- disk with the default work_mem (4 MB), and sort in memory with this.
SET LOCAL work_mem = '64MB';

CREATE TEMP TABLE session_rebuild ON COMMIT DROP AS
SELECT n.listener,
       least(n.first_started, (SELECT min(f.session_start) FROM core.fact_listening_sessions AS f
                               WHERE f.listener = n.listener
                                 AND f.session_end >= n.first_started - make_interval(secs => %(gap_seconds)s)))
           AS rebuild_from,
       coalesce((SELECT min(f.session_start) FROM core.fact_listening_sessions AS f
                 WHERE f.listener = n.listener
                   AND f.session_start > n.last_ended + make_interval(secs => %(gap_seconds)s)), 'infinity')
           AS rebuild_until
FROM (SELECT listener, min(ts - coalesce(ms_played, 0) * interval '1 millisecond') AS first_started,
             max(ts) AS last_ended
      FROM new_plays GROUP BY listener) AS n;
-- Its size (one row a listener with new plays, not the planner's guess of a thousand): the
-- plays of the rebuild are then filtered before they are sorted, not after.
ANALYZE session_rebuild;

-- A play starts a session unless it starts within the gap after the previous one ended; a
-- session's id is the play_id of its first play: the latest session start so far in the
-- listener's order, as the running maximum of [position, play_id] over the starts (positions
-- grow, so the maximum is the latest), which needs no second sort by session.
CREATE TEMP TABLE session_plays ON COMMIT DROP AS
WITH plays AS (
    SELECT s.play_id, s.listener, s.ts, start.started, coalesce(s.ms_played, 0) AS ms_played
    FROM staging.streaming_history AS s
    CROSS JOIN LATERAL (SELECT s.ts - coalesce(s.ms_played, 0) * interval '1 millisecond' AS started) AS start
    JOIN session_rebuild AS r ON r.listener = s.listener
    -- A play starts before it ends (ts): this bound, on ts itself, lets the block-range index
    -- skip the history before the earliest rebuild (a new export's recent months read only those).
    WHERE s.ts >= (SELECT min(rebuild_from) FROM session_rebuild)
      AND start.started >= r.rebuild_from AND start.started < r.rebuild_until
), marked AS (
    SELECT *,
           row_number() OVER w AS position,
           started - lag(ts) OVER w > make_interval(secs => %(gap_seconds)s) IS NOT FALSE AS starts_session
    FROM plays
    WINDOW w AS (PARTITION BY listener ORDER BY started, play_id)
)
SELECT play_id, listener, ts, started, ms_played,
       (max(ARRAY[position, play_id]) FILTER (WHERE starts_session)
            OVER (PARTITION BY listener ORDER BY started, play_id))[2] AS session_id
FROM marked;

-- The sessions rebuilt go, with their plays' assignments (also those of plays no longer staged).
CREATE TEMP TABLE sessions_replaced ON COMMIT DROP AS
WITH deleted AS (
    DELETE FROM core.fact_listening_sessions AS f
    USING session_rebuild AS r
    WHERE f.listener = r.listener AND f.session_start >= r.rebuild_from AND f.session_start < r.rebuild_until
    RETURNING f.session_id
)
SELECT session_id FROM deleted;
-- How many (a temporary table has no statistics of its own): a few sessions' assignments are
-- found through play_session's index on session_id (migration 0022), not by reading all of it.
ANALYZE sessions_replaced;

CREATE TEMP TABLE assignments_replaced ON COMMIT DROP AS
WITH deleted AS (
    DELETE FROM core.play_session AS ps
    USING sessions_replaced AS r
    WHERE ps.session_id = r.session_id
    RETURNING ps.play_id, ps.session_id
)
SELECT play_id, session_id FROM deleted;
-- How many, for the months changed below: a first build replaces none, which, unknown, the
-- planner took for ~1,850 and so sorted every play rebuilt by play_id (a million spilled 37 MB)
-- to merge them with nothing, where a hash of what was replaced is probed instead.
ANALYZE assignments_replaced;

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

-- Months of plays whose session is new or another (their fact rows carry the session id).
INSERT INTO changed_months
SELECT to_char(month, 'YYYY-MM')
FROM (SELECT DISTINCT date_trunc('month', p.ts AT TIME ZONE 'UTC') AS month
      FROM session_plays AS p
      LEFT JOIN assignments_replaced AS a ON a.play_id = p.play_id
      WHERE a.session_id IS DISTINCT FROM p.session_id) AS changed;

-- (The fact loads join these: spotify_etl/defs/core/listening_sessions.py refreshes their
-- statistics when enough of them changed.)
