-- Plays stored in staging, as the files' observed counts add up (each file's count is checked
-- against its records by every_record_accounted_for), and the last source file: cheap at any size.
SELECT coalesce(sum(stored), 0)::bigint, coalesce(max(source_file_id), 0)
FROM etl_internal.source_files;
