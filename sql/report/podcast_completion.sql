-- How much of each played episode was heard, where its duration is known (duration_ms > 0,
-- which the planner applies to the episodes before their plays are grouped).
SELECT completion FROM mart.podcast_completion
WHERE (%(listener)s::text IS NULL OR listener = %(listener)s) AND duration_ms > 0 AND completion IS NOT NULL;
