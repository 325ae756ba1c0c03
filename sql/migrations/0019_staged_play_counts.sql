-- How many staged plays each listener has from each country and of each kind, kept by
-- statement triggers on staging.streaming_history in the transaction of every change to it:
-- dim_listener's home country (the most frequent conn_country) and raw_plays' plays by kind
-- read these few rows instead of counting every play of the listeners again whenever a file
-- brings new plays (0.3 s and 0.2 s at 1M plays).
CREATE TABLE etl_internal.listener_country_plays (
    listener text NOT NULL,
    conn_country text NOT NULL,
    plays bigint NOT NULL CHECK (plays >= 0),
    PRIMARY KEY (listener, conn_country)
);
COMMENT ON TABLE etl_internal.listener_country_plays IS
    'Staged plays per listener and conn_country (the plays with one), kept by triggers on staging.streaming_history';

CREATE TABLE etl_internal.listener_kind_plays (
    listener text NOT NULL,
    content_kind text NOT NULL,
    plays bigint NOT NULL CHECK (plays >= 0),
    PRIMARY KEY (listener, content_kind)
);
COMMENT ON TABLE etl_internal.listener_kind_plays IS
    'Staged plays per listener and content_kind, kept by triggers on staging.streaming_history';

INSERT INTO etl_internal.listener_country_plays (listener, conn_country, plays)
SELECT listener, conn_country, count(*)
FROM staging.streaming_history
WHERE conn_country IS NOT NULL
GROUP BY listener, conn_country;

INSERT INTO etl_internal.listener_kind_plays (listener, content_kind, plays)
SELECT listener, content_kind, count(*)
FROM staging.streaming_history
GROUP BY listener, content_kind;

-- The rows a statement removed (old_rows) and added (new_rows), counted once per statement: a
-- file's merge adds one count per country and kind, not one per play.
CREATE FUNCTION etl_internal.count_staged_plays() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE etl_internal.listener_country_plays AS c
        SET plays = c.plays - o.plays
        FROM (SELECT listener, conn_country, count(*) AS plays FROM old_rows
              WHERE conn_country IS NOT NULL GROUP BY listener, conn_country) AS o
        WHERE c.listener = o.listener AND c.conn_country = o.conn_country;
        DELETE FROM etl_internal.listener_country_plays WHERE plays = 0;
        UPDATE etl_internal.listener_kind_plays AS k
        SET plays = k.plays - o.plays
        FROM (SELECT listener, content_kind, count(*) AS plays FROM old_rows
              GROUP BY listener, content_kind) AS o
        WHERE k.listener = o.listener AND k.content_kind = o.content_kind;
        DELETE FROM etl_internal.listener_kind_plays WHERE plays = 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO etl_internal.listener_country_plays AS c (listener, conn_country, plays)
        SELECT listener, conn_country, count(*) FROM new_rows
        WHERE conn_country IS NOT NULL
        GROUP BY listener, conn_country
        ON CONFLICT (listener, conn_country) DO UPDATE SET plays = c.plays + excluded.plays;
        INSERT INTO etl_internal.listener_kind_plays AS k (listener, content_kind, plays)
        SELECT listener, content_kind, count(*) FROM new_rows
        GROUP BY listener, content_kind
        ON CONFLICT (listener, content_kind) DO UPDATE SET plays = k.plays + excluded.plays;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER count_staged_plays_inserted AFTER INSERT ON staging.streaming_history
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION etl_internal.count_staged_plays();
CREATE TRIGGER count_staged_plays_deleted AFTER DELETE ON staging.streaming_history
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION etl_internal.count_staged_plays();
CREATE TRIGGER count_staged_plays_updated AFTER UPDATE ON staging.streaming_history
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION etl_internal.count_staged_plays();

CREATE FUNCTION etl_internal.forget_staged_plays() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE etl_internal.listener_country_plays, etl_internal.listener_kind_plays;
    RETURN NULL;
END
$$;

CREATE TRIGGER count_staged_plays_truncated AFTER TRUNCATE ON staging.streaming_history
    FOR EACH STATEMENT EXECUTE FUNCTION etl_internal.forget_staged_plays();
