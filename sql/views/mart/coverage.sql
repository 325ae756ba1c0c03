-- What the warehouse knows: plays, enrichment coverage, rejected records by reason.
CREATE VIEW mart.coverage AS
-- Plays stored: the counts kept with staging by its triggers (migration 0019), not a count of
-- every play each time the report is built (~80 ms at 1M plays).
SELECT 'plays stored' AS item, coalesce(sum(plays), 0)::text AS value FROM etl_internal.listener_kind_plays
UNION ALL
SELECT 'tracks enriched', count(*) FILTER (WHERE enriched_at IS NOT NULL) || ' of ' || count(*)
FROM core.dim_track WHERE track_id <> 0 AND NOT is_local
UNION ALL
SELECT 'episodes enriched', count(*) FILTER (WHERE enriched_at IS NOT NULL) || ' of ' || count(*)
FROM core.dim_episode WHERE episode_id <> 0
UNION ALL
SELECT 'records rejected: ' || regexp_replace(reason, ' \(.*\)$', ''), count(*)::text
FROM etl_internal.rejected_records GROUP BY regexp_replace(reason, ' \(.*\)$', '')
UNION ALL
SELECT 'failed URIs', count(*)::text FROM etl_internal.failed_uris;
