-- A sessions' rebuild (sql/core/listening_sessions.sql) deletes the assignments of the sessions
-- it replaces, found by their session. Without an index on it, every rebuild read all of
-- core.play_session: 0.16 s at 1M plays to find the 282 plays of a new export's last session
-- (0.2 ms with it), a cost of the warehouse's size in a run that touches one month.
CREATE INDEX play_session_session_id ON core.play_session (session_id);
