-- A fact's plays in all months, and its plays and milliseconds in the months of [start, end)
-- (UTC month starts): sums of its per-date aggregate, mart.daily_listening, which its load
-- replaces in the same transaction, so they are the fact's own counts. A few thousand rows,
-- where counting the fact read every play (0.2 s at a million plays, in every load).
SELECT coalesce(sum(plays), 0)::bigint AS plays,
       coalesce(sum(plays) FILTER (WHERE fact_month >= (%(start)s AT TIME ZONE 'UTC')::date
                                     AND fact_month < (%(end)s AT TIME ZONE 'UTC')::date), 0)::bigint AS plays_loaded,
       coalesce(sum(ms_played) FILTER (WHERE fact_month >= (%(start)s AT TIME ZONE 'UTC')::date
                                         AND fact_month < (%(end)s AT TIME ZONE 'UTC')::date), 0) AS ms_loaded
FROM mart.daily_listening
WHERE kind = %(kind)s;
