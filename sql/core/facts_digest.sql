-- A digest of both facts' rows in the months %(months)s (YYYY-MM, UTC), within
-- [%(start)s, %(end)s) so that only their partitions are read: equal digests, equal rows.
-- Sums of hashes need no sort.
SELECT (SELECT count(*) || '-' || coalesce(sum(hashtextextended(f::text, 0)), 0)
        FROM core.fact_tracks_history AS f
        WHERE f.ts >= %(start)s AND f.ts < %(end)s AND to_char(f.ts AT TIME ZONE 'UTC', 'YYYY-MM') = ANY(%(months)s))
    || '/' ||
       (SELECT count(*) || '-' || coalesce(sum(hashtextextended(f::text, 0)), 0)
        FROM core.fact_podcasts_history AS f
        WHERE f.ts >= %(start)s AND f.ts < %(end)s AND to_char(f.ts AT TIME ZONE 'UTC', 'YYYY-MM') = ANY(%(months)s));
