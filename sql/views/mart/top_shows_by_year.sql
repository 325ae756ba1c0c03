-- Podcasts by minutes listened per local year, ranked (from mart.episode_years).
CREATE VIEW mart.top_shows_by_year AS
SELECT listener, year, podcast_name, minutes, episodes_played,
       rank() OVER (PARTITION BY listener, year ORDER BY minutes DESC) AS rank
FROM (
    SELECT y.listener, y.year, p.podcast_name,
           round(sum(y.ms_played) / 60000.0, 1) AS minutes, count(DISTINCT y.episode_id) AS episodes_played
    FROM mart.episode_years AS y
    JOIN core.dim_podcast AS p ON p.podcast_id = y.podcast_id
    GROUP BY 1, 2, 3
) AS t;
