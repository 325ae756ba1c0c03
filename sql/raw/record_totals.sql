-- What the ledger says of every file read: records read, stored, duplicates, rejected.
SELECT coalesce(sum(records_read), 0)::bigint, coalesce(sum(stored), 0)::bigint,
       coalesce(sum(duplicates), 0)::bigint, coalesce(sum(rejected), 0)::bigint
FROM etl_internal.source_files;
