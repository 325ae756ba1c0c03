-- Files read, by outcome, with their record accounting.
SELECT status, count(*) AS files, coalesce(sum(records_read), 0) AS records_read,
       coalesce(sum(stored), 0) AS stored, coalesce(sum(duplicates), 0) AS duplicates,
       coalesce(sum(rejected), 0) AS rejected, max(loaded_at) AS last_loaded
FROM etl_internal.source_files
GROUP BY status
ORDER BY status;
