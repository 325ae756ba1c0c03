-- Record a failed fetch. Permanent failures (404, 400 invalid id, null in a batch, malformed
-- id) are never asked again; transient ones are retried after 1 h, 2 h, 4 h, ... until
-- %(max_attempts)s attempts, then count as permanent.
INSERT INTO etl_internal.failed_uris AS f
    (uri, entity_type, reason, http_status, attempts, permanent, next_attempt_at)
VALUES (%(uri)s, %(entity)s, %(reason)s, %(status)s, 1, %(permanent)s,
        CASE WHEN %(permanent)s THEN NULL ELSE now() + interval '1 hour' END)
ON CONFLICT (uri) DO UPDATE SET
    reason = excluded.reason,
    http_status = excluded.http_status,
    attempts = f.attempts + 1,
    permanent = excluded.permanent OR f.attempts + 1 >= %(max_attempts)s,
    last_failed_at = now(),
    next_attempt_at = CASE WHEN excluded.permanent OR f.attempts + 1 >= %(max_attempts)s THEN NULL
                           ELSE now() + interval '1 hour' * power(2, f.attempts) END;
