-- Incremental builds: a step that reads staging reads only the plays stored since it last
-- ran. Source files are committed in the order of their ids (one ingestion at a time, merges
-- in file order), so "the plays of files after N" is exact.
CREATE INDEX streaming_history_source_file_idx ON staging.streaming_history (source_file_id);
-- The plays of a few months (a month's version, the checks of a run): files are loaded in
-- order, so time correlates with position and a block-range index is enough (and tiny).
CREATE INDEX streaming_history_ts_brin ON staging.streaming_history USING brin (ts);

-- Where each incremental step stands: the last source file whose plays it has read, and the
-- settings it read them with (other settings: the step starts again from the first file).
CREATE TABLE etl_internal.build_watermarks (
    step            text        PRIMARY KEY,
    source_file_id  bigint      NOT NULL,
    settings        text        NOT NULL,
    built_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE etl_internal.build_watermarks IS
    'The last source file each incremental step (dimensions, sessions) has read, and with which settings';
