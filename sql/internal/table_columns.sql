-- A table's columns in order: name, type, nullable, comment.
SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       col_description(a.attrelid, a.attnum)
FROM pg_attribute AS a
WHERE a.attrelid = format('%%I.%%I', %s::text, %s::text)::regclass
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;
