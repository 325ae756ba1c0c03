-- The ledger of source_files against the rows actually in staging and rejected_records.
SELECT
    coalesce(sum(records_read), 0)::bigint,
    coalesce(sum(stored), 0)::bigint,
    coalesce(sum(duplicates), 0)::bigint,
    coalesce(sum(rejected), 0)::bigint,
    (SELECT count(*) FROM staging.streaming_history),
    (SELECT count(*) FROM etl_internal.rejected_records)
FROM etl_internal.source_files;
