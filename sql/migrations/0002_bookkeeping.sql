-- Pipeline bookkeeping: which files were read, with what outcome, and every rejected record.

CREATE TABLE etl_internal.source_files (
    source_file_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    listener        text        NOT NULL,
    -- Relative to the raw directory; a zip member is written `archive.zip!member/path.json`.
    path            text        NOT NULL,
    sha256          text        NOT NULL,
    size_bytes      bigint      NOT NULL,
    -- With path and size, tells an unchanged file without reading it.
    modified_at     timestamptz,
    kind            text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('loaded', 'failed')),
    error           text,
    records_read    bigint      NOT NULL DEFAULT 0,
    stored          bigint      NOT NULL DEFAULT 0,
    duplicates      bigint      NOT NULL DEFAULT 0,
    rejected        bigint      NOT NULL DEFAULT 0,
    first_ts        timestamptz,
    last_ts         timestamptz,
    loaded_at       timestamptz NOT NULL DEFAULT now(),
    -- Identical content is read once per listener, wherever it lies (zip and unpacked copy).
    UNIQUE (listener, sha256),
    UNIQUE (listener, path, size_bytes, modified_at),
    -- Every record read is accounted for.
    CHECK (records_read = stored + duplicates + rejected)
);
COMMENT ON TABLE etl_internal.source_files IS
    'One row per export file read: outcome and counts (records_read = stored + duplicates + rejected)';

CREATE TABLE etl_internal.rejected_records (
    rejected_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_file_id  bigint      NOT NULL REFERENCES etl_internal.source_files ON DELETE CASCADE,
    -- 0-based index of the record in the file's top-level array.
    position        bigint      NOT NULL,
    reason          text        NOT NULL,
    -- The record as JSON text, control characters escaped, so nothing is lost.
    record          text        NOT NULL,
    rejected_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_file_id, position)
);
COMMENT ON TABLE etl_internal.rejected_records IS
    'Records that could not be stored as plays, with the reason; kept so nothing is lost';
