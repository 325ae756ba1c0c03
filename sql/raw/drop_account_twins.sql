-- Account data repeats extended history to the minute and without URIs. A play in both is
-- kept once, as the richer extended row; the account row becomes a duplicate of its file.
-- Returns one row per file that lost plays: (source_file_id, plays moved, their months).
WITH twins AS (
    DELETE FROM staging.streaming_history AS a
    USING staging.streaming_history AS e
    WHERE a.source_format = 'account'
      AND a.listener = %(listener)s
      AND e.source_format = 'extended'
      AND e.listener = a.listener
      -- Account times are whole minutes (UTC): an equality the server can hash on. Joined on
      -- names alone, a song played a thousand times met every one of its account plays
      -- (minutes at 1M plays with a year of account data; now under a second).
      AND date_trunc('minute', e.ts AT TIME ZONE 'UTC') = a.ts AT TIME ZONE 'UTC'
      AND e.ts >= a.ts AND e.ts < a.ts + interval '1 minute'
      AND e.name_key = a.name_key
      AND e.ms_played IS NOT DISTINCT FROM a.ms_played
    RETURNING a.source_file_id, a.play_id, a.ts
), per_file AS (
    SELECT source_file_id, count(DISTINCT play_id) AS n,
           array_agg(DISTINCT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM')) AS months
    FROM twins GROUP BY source_file_id
)
UPDATE etl_internal.source_files AS f
SET stored = f.stored - per_file.n, duplicates = f.duplicates + per_file.n
FROM per_file
WHERE f.source_file_id = per_file.source_file_id
RETURNING f.source_file_id, per_file.n, per_file.months;
