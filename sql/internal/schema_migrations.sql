-- The migration ledger itself: created before any migration runs, so it cannot be one.
CREATE SCHEMA IF NOT EXISTS etl_internal;
CREATE TABLE IF NOT EXISTS etl_internal.schema_migrations (
    version     integer PRIMARY KEY,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
