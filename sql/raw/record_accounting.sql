-- Files whose counts do not add up, or do not match what they left in the warehouse: records
-- read = stored + duplicates + rejected; stored = the file's rows in staging; rejected = its
-- rows in rejected_records. Plus staged or rejected rows whose file is not in the ledger.
-- Each count was observed on its own (see spotify_etl/lib/ingestion.py), so this can fail.
-- No row: every record read is accounted for.
WITH staged AS (
    SELECT source_file_id, count(*) AS n FROM staging.streaming_history GROUP BY source_file_id
), rejected AS (
    SELECT source_file_id, count(*) AS n FROM etl_internal.rejected_records GROUP BY source_file_id
)
SELECT coalesce(f.path, '(no file with source_file_id ' || coalesce(s.source_file_id, r.source_file_id) || ')') AS path,
       f.records_read, f.stored, f.duplicates, f.rejected,
       coalesce(s.n, 0) AS rows_in_staging, coalesce(r.n, 0) AS rows_in_rejected_records
FROM etl_internal.source_files AS f
FULL JOIN staged AS s ON s.source_file_id = f.source_file_id
FULL JOIN rejected AS r ON r.source_file_id = coalesce(f.source_file_id, s.source_file_id)
WHERE f.source_file_id IS NULL
   OR f.records_read <> f.stored + f.duplicates + f.rejected
   OR f.stored <> coalesce(s.n, 0)
   OR f.rejected <> coalesce(r.n, 0)
ORDER BY 1;
