-- The 1,440 minutes of a day, with their part of the day.
INSERT INTO core.dim_time (time_id, hour, minute, part_of_day)
SELECT h * 100 + m, h, m,
       CASE WHEN h < 6 THEN 'night' WHEN h < 12 THEN 'morning'
            WHEN h < 18 THEN 'afternoon' ELSE 'evening' END
FROM generate_series(0, 23) AS h, generate_series(0, 59) AS m
ON CONFLICT (time_id) DO NOTHING;

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_time;
