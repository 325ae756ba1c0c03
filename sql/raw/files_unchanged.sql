-- Which of these files (one element of each array a file) are recorded as read already with
-- their listener, path, size and modification time: their listener, path and kind.
SELECT f.listener, f.path, s.kind
FROM unnest(%(listeners)s::text[], %(paths)s::text[], %(sizes)s::bigint[], %(modified)s::timestamptz[])
         AS f (listener, path, size_bytes, modified_at)
JOIN etl_internal.source_files AS s USING (listener, path, size_bytes, modified_at);
