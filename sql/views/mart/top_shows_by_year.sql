-- Podcasts by minutes listened per local year, ranked.
CREATE VIEW mart.top_shows_by_year AS
SELECT listener, year, podcast_name, minutes, episodes_played,
       rank() OVER (PARTITION BY listener, year ORDER BY minutes DESC) AS rank
FROM (
    SELECT f.listener, extract(year FROM f.ts_local)::integer AS year, p.podcast_name,
           round(sum(f.ms_played) / 60000.0, 1) AS minutes, count(DISTINCT f.episode_id) AS episodes_played
    FROM core.fact_podcasts_history AS f
    JOIN core.dim_podcast AS p ON p.podcast_id = f.podcast_id
    GROUP BY 1, 2, 3
) AS t;
