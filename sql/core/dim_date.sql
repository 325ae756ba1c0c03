-- Add every calendar day the plays can fall on (UTC dates +/- one day cover all local dates),
-- from the first to the last day of the plays read so far: the calendar has no holes.
INSERT INTO core.dim_date
SELECT to_char(d, 'YYYYMMDD')::integer,
       d::date,
       extract(year FROM d)::integer,
       extract(quarter FROM d)::integer,
       extract(month FROM d)::integer,
       to_char(d, 'FMMonth'),
       extract(day FROM d)::integer,
       extract(isodow FROM d)::integer,
       to_char(d, 'FMDay'),
       extract(week FROM d)::integer,
       extract(isoyear FROM d)::integer,
       extract(isodow FROM d) IN (6, 7)
FROM (SELECT least(min(ts AT TIME ZONE 'UTC')::date - 1, (SELECT min(date) FROM core.dim_date WHERE date_id > 0)) AS first_day,
             greatest(max(ts AT TIME ZONE 'UTC')::date + 1, (SELECT max(date) FROM core.dim_date WHERE date_id > 0)) AS last_day
      FROM new_plays) AS span,
     generate_series(span.first_day, span.last_day, interval '1 day') AS d
WHERE span.first_day IS NOT NULL
ON CONFLICT (date_id) DO NOTHING;

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_date;
