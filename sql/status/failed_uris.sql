-- Failed URIs by entity and reason.
SELECT entity_type, reason, permanent, count(*) AS uris
FROM etl_internal.failed_uris
GROUP BY 1, 2, 3
ORDER BY uris DESC;
