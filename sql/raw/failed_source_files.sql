-- Files that could not be read to their end, unless a later load of the same path succeeded;
-- of some listeners, or of all (%(listeners)s NULL).
SELECT f.path, f.error, f.stored
FROM etl_internal.source_files AS f
WHERE f.status = 'failed'
  AND (%(listeners)s::text[] IS NULL OR f.listener = ANY(%(listeners)s))
  AND NOT EXISTS (
      SELECT 1 FROM etl_internal.source_files AS later
      WHERE later.listener = f.listener AND later.path = f.path
        AND later.status = 'loaded' AND later.source_file_id > f.source_file_id)
ORDER BY f.path;
