-- How much of each episode was played (its longest play), where its duration is known.
CREATE VIEW mart.podcast_completion AS
SELECT f.listener, e.episode_id, e.episode_name, p.podcast_name, e.duration_ms,
       max(f.ms_played) AS longest_play_ms,
       CASE WHEN e.duration_ms > 0
            THEN least(round(max(f.ms_played)::numeric / e.duration_ms, 4), 1) END AS completion
FROM core.fact_podcasts_history AS f
JOIN core.dim_episode AS e ON e.episode_id = f.episode_id
JOIN core.dim_podcast AS p ON p.podcast_id = e.podcast_id
GROUP BY 1, 2, 3, 4, 5;
