-- How much of each played episode was heard, where its duration is known.
SELECT completion FROM mart.podcast_completion
WHERE (%(listener)s::text IS NULL OR listener = %(listener)s) AND completion IS NOT NULL;
