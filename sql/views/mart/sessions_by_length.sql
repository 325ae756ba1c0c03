-- Listening sessions per local year and length category.
CREATE VIEW mart.sessions_by_length AS
SELECT s.listener, extract(year FROM s.session_start AT TIME ZONE l.home_time_zone)::integer AS year,
       s.length_category, count(*) AS sessions, round(sum(s.minutes_played), 1) AS minutes
FROM core.fact_listening_sessions AS s
JOIN core.dim_listener AS l USING (listener)
GROUP BY 1, 2, 3;
