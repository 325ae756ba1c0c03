-- A fact's months may be loaded in pieces side by side (spotify_etl/lib/warehouse/fact_loads.py):
-- months the fact holds no row of yet, their partitions made beforehand, each piece on a
-- connection of its own. Every load of sql/core/fact_*.sql begins here.
--
-- A whole load (one transaction for all its months, as before) holds the fact's lock alone: it
-- truncates and attaches partitions, whose locks would deadlock with a load beside it. A piece
-- holds the fact's lock shared with the other pieces, and each of its months alone (two runs
-- loading the same month still take turns), and takes no lock stronger than a row's: it deletes
-- its months' rows, if any (none, when it was planned), instead of truncating their partitions,
-- and inserts only into partitions that exist.
CREATE FUNCTION core.begin_fact_load(fact regclass, first_ts timestamptz, end_ts timestamptz, piece boolean)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT piece THEN
        PERFORM pg_advisory_xact_lock(hashtext(fact::text));
        PERFORM core.prepare_fact_months(fact, first_ts, end_ts);
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(hashtext(fact::text));
    PERFORM pg_advisory_xact_lock(hashtext(fact::text), (extract(year FROM m) * 12 + extract(month FROM m))::integer)
    FROM generate_series(date_trunc('month', first_ts AT TIME ZONE 'UTC'),
                         end_ts AT TIME ZONE 'UTC' - interval '1 microsecond', interval '1 month') AS m
    ORDER BY m;
    EXECUTE format('DELETE FROM %s WHERE ts >= $1 AND ts < $2', fact) USING first_ts, end_ts;
END
$$;
COMMENT ON FUNCTION core.begin_fact_load(regclass, timestamptz, timestamptz, boolean) IS
    'Lock a fact''s load of [first_ts, end_ts) and empty those months: a whole load alone, pieces side by side';

-- The partitions of the given months (month starts) a fact lacks, made before its pieces load,
-- under the fact's lock (attaching waits for, and is waited for by, every other load).
CREATE FUNCTION core.add_fact_partitions(fact regclass, months timestamptz[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(fact::text));
    PERFORM core.month_partition(fact, m) FROM unnest(months) AS m;
END
$$;
COMMENT ON FUNCTION core.add_fact_partitions(regclass, timestamptz[]) IS
    'Create the monthly partitions of a fact missing for the given months, before loading them in pieces';
