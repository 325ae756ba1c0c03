-- Rejected records by reason (the reason without its offending value).
SELECT regexp_replace(reason, ' \(.*\)$', '') AS reason, count(*) AS records
FROM etl_internal.rejected_records
GROUP BY 1
ORDER BY records DESC;
