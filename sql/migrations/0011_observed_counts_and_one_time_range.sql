-- The counts of etl_internal.source_files are each observed now (see spotify_etl/ingestion.py).
-- Whether they add up is for the every_record_accounted_for check to say, file by file: a
-- constraint would abort the load and hide the evidence.
ALTER TABLE etl_internal.source_files DROP CONSTRAINT IF EXISTS source_files_check;

-- One time range for plays and partitions, from 2008-10 (spotify_etl.export.records.
-- EARLIEST_PLAY). Plays staged before it by earlier versions lay in no partition and never
-- reached a fact: they become rejected records of their files, with the row as it was staged.
WITH moved AS (
    DELETE FROM staging.streaming_history AS s
    WHERE s.ts < timestamptz '2008-10-01 00:00:00+00'
    RETURNING s.source_file_id, s.source_position, s.ts, to_jsonb(s) AS row
), kept AS (
    INSERT INTO etl_internal.rejected_records (source_file_id, position, reason, record)
    SELECT source_file_id, source_position,
           'field ''ts'': outside 2008-10 .. now (moved from staging by migration 0011)', row::text
    FROM moved
    RETURNING source_file_id
)
UPDATE etl_internal.source_files AS f
SET stored = f.stored - n.moved, rejected = f.rejected + n.moved
FROM (SELECT source_file_id, count(*) AS moved FROM kept GROUP BY source_file_id) AS n
WHERE f.source_file_id = n.source_file_id;
