-- Is this file (listener, path, size, modification time) recorded as read already?
SELECT 1 FROM etl_internal.source_files
WHERE listener = %s AND path = %s AND size_bytes = %s AND modified_at = %s;
