-- The API's stored resume time and its reason (a long rate limit, a quota, an outage).
SELECT resume_at, reason FROM etl_internal.api_resume_state WHERE api = %s;
