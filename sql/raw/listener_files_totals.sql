-- Plays stored for some listeners, as their files' observed counts add up, and their last
-- source file: the data version of their raw_plays partitions.
SELECT coalesce(sum(stored), 0)::bigint, coalesce(max(source_file_id), 0)
FROM etl_internal.source_files
WHERE listener = ANY(%(listeners)s);
