-- The four layers of the warehouse; each reads only the one before it.
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS etl_internal;
CREATE SCHEMA IF NOT EXISTS mart;

COMMENT ON SCHEMA staging IS 'Plays typed, one row per unique play; Spotify API responses as jsonb';
COMMENT ON SCHEMA core IS 'Star schema: dimensions and facts, built from staging only';
COMMENT ON SCHEMA etl_internal IS 'Pipeline bookkeeping: migrations, source files, rejected records, failed URIs';
COMMENT ON SCHEMA mart IS 'Views answering the common questions';
