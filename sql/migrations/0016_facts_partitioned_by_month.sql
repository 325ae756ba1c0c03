-- The play facts become tables partitioned by calendar month of ts (UTC), one PostgreSQL
-- partition per month that holds plays, named <fact>_yYYYYmMM. Reloading a month empties that
-- month's own partition (TRUNCATE: a new empty file, no dead rows to vacuum, no index entries
-- of other months to maintain) and inserts it again; other months are never rewritten.
--
-- A unique constraint of a partitioned table must include the partition key, so the primary
-- key becomes (play_id, ts); play_id stays unique because staging holds each play once.
-- The index on ts is not kept: a month's rows are its partition (pruning replaces it).

-- The qualified name of a fact's partition for the month holding `month` (UTC).
CREATE FUNCTION core.month_partition_name(fact regclass, month timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT format('%I.%I', n.nspname, c.relname || to_char(month AT TIME ZONE 'UTC', '"_y"YYYY"m"MM'))
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = fact
$$;

-- That partition, created if missing. Created apart and attached: attaching locks the fact
-- against other schema changes only, where CREATE TABLE ... PARTITION OF would wait for (and
-- then block) every reader of the fact.
CREATE FUNCTION core.month_partition(fact regclass, month timestamptz) RETURNS regclass
LANGUAGE plpgsql AS $$
DECLARE
    first_ts timestamptz := date_trunc('month', month, 'UTC');
    name text := core.month_partition_name(fact, month);
BEGIN
    IF to_regclass(name) IS NULL THEN
        EXECUTE format('CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING STORAGE)', name, fact);
        EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%L) TO (%L)',
                       fact, name, first_ts, (first_ts AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC');
    END IF;
    RETURN name::regclass;
END
$$;

-- Prepare the months of [first_ts, end_ts) (month starts, UTC) of a fact for loading: empty
-- each month's partition that exists, create one for each month of staged plays that has
-- none. Months without plays get no partition (a 3-play export gets those of its months, not
-- one per month since 2008).
CREATE FUNCTION core.prepare_fact_months(fact regclass, first_ts timestamptz, end_ts timestamptz)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    filled text;
    missing timestamptz[];
    lock_timeout_before text := current_setting('lock_timeout');
BEGIN
    SELECT string_agg(name, ', ') FILTER (WHERE to_regclass(name) IS NOT NULL),
           array_agg(month) FILTER (WHERE to_regclass(name) IS NULL)
    INTO filled, missing
    FROM (SELECT m AT TIME ZONE 'UTC' AS month, core.month_partition_name(fact, m AT TIME ZONE 'UTC') AS name
          FROM generate_series(date_trunc('month', first_ts AT TIME ZONE 'UTC'),
                               end_ts AT TIME ZONE 'UTC' - interval '1 microsecond', interval '1 month') AS m) AS months;
    -- One statement for all of them: a backfill empties every month at once. TRUNCATE waits
    -- for every reader of those months to finish (and new readers queue behind it): when one
    -- holds them for more than a few seconds (a client idle in a transaction), the rows are
    -- deleted instead, as before partitioning, and the reload goes on.
    IF filled IS NOT NULL THEN
        BEGIN
            PERFORM set_config('lock_timeout', '3s', true);
            EXECUTE 'TRUNCATE ' || filled;
        EXCEPTION WHEN lock_not_available THEN
            RAISE NOTICE 'months of % in use by another session: their rows are deleted instead of truncated', fact;
            EXECUTE format('DELETE FROM %s WHERE ts >= %L AND ts < %L', fact, first_ts, end_ts);
        END;
        PERFORM set_config('lock_timeout', lock_timeout_before, true);
    END IF;
    -- Staging is read only when a month has no partition yet (a first load, a new month): a
    -- reload of loaded months costs no scan here.
    IF missing IS NOT NULL THEN
        PERFORM core.month_partition(fact, played.month)
        FROM (SELECT DISTINCT date_trunc('month', s.ts, 'UTC') AS month
              FROM staging.streaming_history AS s
              WHERE s.ts >= first_ts AND s.ts < end_ts) AS played
        WHERE played.month = ANY(missing);
    END IF;
END
$$;
COMMENT ON FUNCTION core.prepare_fact_months(regclass, timestamptz, timestamptz) IS
    'Empty the monthly partitions of a fact within [first_ts, end_ts) and create those missing for staged plays';

DO $$
DECLARE
    fact text;
BEGIN
    FOREACH fact IN ARRAY ARRAY['fact_tracks_history', 'fact_podcasts_history'] LOOP
        EXECUTE format('ALTER TABLE core.%I RENAME TO %I', fact, fact || '_0005');
        EXECUTE format('ALTER INDEX core.%I RENAME TO %I', fact || '_pkey', fact || '_0005_pkey');
        EXECUTE format('ALTER INDEX core.%I RENAME TO %I', fact || '_natural_key', fact || '_0005_natural_key');
        EXECUTE format(
            'CREATE TABLE core.%I (LIKE core.%I INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMMENTS)'
            ' PARTITION BY RANGE (ts)', fact, fact || '_0005');
        EXECUTE format('ALTER TABLE core.%I ADD PRIMARY KEY (play_id, ts)', fact);
        EXECUTE format(
            'ALTER TABLE core.%I ADD CONSTRAINT %I UNIQUE NULLS NOT DISTINCT (listener, ts, %s, ms_played)',
            fact, fact || '_natural_key', CASE fact WHEN 'fact_tracks_history' THEN 'track_id' ELSE 'episode_id' END);
        EXECUTE format('SELECT count(core.month_partition(%L, m)) FROM (SELECT DISTINCT date_trunc(''month'', ts, ''UTC'') AS m FROM core.%I) AS months',
                       'core.' || fact, fact || '_0005');
        EXECUTE format('INSERT INTO core.%I SELECT * FROM core.%I', fact, fact || '_0005');
        -- The views on the facts go with the old table; apply_views creates them again.
        EXECUTE format('DROP TABLE core.%I CASCADE', fact || '_0005');
    END LOOP;
END
$$;

COMMENT ON TABLE core.fact_tracks_history IS
    'One row per music play, partitioned by calendar month of ts (UTC): <table>_yYYYYmMM';
COMMENT ON TABLE core.fact_podcasts_history IS
    'One row per podcast episode play, partitioned by calendar month of ts (UTC): <table>_yYYYYmMM';

-- The views' checksum is forgotten, so the migrator's apply_views creates every view again.
DELETE FROM etl_internal.schema_views;
