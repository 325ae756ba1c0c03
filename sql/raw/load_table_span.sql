-- The time span of the plays of the file being loaded.
SELECT min(ts), max(ts) FROM load_plays;
