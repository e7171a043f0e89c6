-- TMDB analytics views, written once in BigQuery's dialect: built as they are in BigQuery and
-- translated by sqlglot for the DuckDB warehouse (video_analytics/warehouse/views.py).
-- Same names and meaning as the original's queries/*_views.sql, but "latest per movie" is taken before
-- filtering and ranking, and every 7-day figure comes from tmdb_movie_metrics, which lags by calendar
-- days (a gap gives NULL). Table names are bare; BigQuery qualifies them with project.dataset.
-- BigQuery requires a WHERE, GROUP BY or HAVING next to QUALIFY, hence the `WHERE TRUE`s.

CREATE OR REPLACE VIEW v_latest_popularity_metrics AS
SELECT l.movie_id, m.title, m.release_date, l.snapshot_date, l.popularity, l.vote_count, l.vote_average,
       l.popularity_change_1d, l.popularity_pct_change_1d, l.popularity_change_7d,
       l.popularity_pct_change_7d, l.vote_count_change_1d, l.vote_count_change_7d, l.momentum_status
FROM (
  SELECT * FROM tmdb_movie_metrics WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY movie_id ORDER BY snapshot_date DESC) = 1
) l
LEFT JOIN tmdb_movies m ON m.movie_id = l.movie_id;

CREATE OR REPLACE VIEW v_popularity_7d_moving_average AS
SELECT x.movie_id, m.title, x.snapshot_date, x.popularity, x.popularity_7d_ma,
       x.popularity - x.popularity_7d_ma AS deviation_from_ma, x.popularity_volatility_7d
FROM tmdb_movie_metrics x
LEFT JOIN tmdb_movies m ON m.movie_id = x.movie_id;

CREATE OR REPLACE VIEW v_popularity_wow_comparison AS
WITH weekly AS (
  -- The Sunday starting the week (BigQuery's DATE_TRUNC(d, WEEK)), as day arithmetic from a Sunday
  -- (1970-01-04): sqlglot turns WEEK into DuckDB's Monday weeks, and bqemulator's views do the same
  -- with WEEK(SUNDAY), while plain arithmetic means the same everywhere.
  SELECT movie_id,
         CAST(DATE_ADD(DATE '1970-01-04', INTERVAL DIV(DATE_DIFF(snapshot_date, DATE '1970-01-04', DAY), 7) * 7 DAY)
              AS DATE) AS week_start,
         AVG(popularity) AS avg_popularity, MAX(popularity) AS max_popularity,
         MIN(popularity) AS min_popularity, COUNT(*) AS days_observed
  FROM tmdb_snapshots
  GROUP BY 1, 2
)
SELECT w.movie_id, m.title, w.week_start, w.avg_popularity, w.max_popularity, w.min_popularity,
       w.days_observed, p.avg_popularity AS prev_week_avg_popularity,
       SAFE_DIVIDE(w.avg_popularity - p.avg_popularity, p.avg_popularity) * 100 AS wow_pct_change
FROM weekly w
LEFT JOIN weekly p ON p.movie_id = w.movie_id AND p.week_start = CAST(DATE_SUB(w.week_start, INTERVAL 7 DAY) AS DATE)
LEFT JOIN tmdb_movies m ON m.movie_id = w.movie_id;

CREATE OR REPLACE VIEW v_top_gaining_movies AS
SELECT l.movie_id, m.title, l.snapshot_date, l.popularity AS current_popularity,
       l.popularity_pct_change_7d, l.popularity_7d_ma, l.popularity_wow_pct_change AS weekly_pct_change,
       RANK() OVER (ORDER BY l.popularity_pct_change_7d DESC) AS gain_rank
FROM (
  SELECT * FROM tmdb_movie_metrics WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY movie_id ORDER BY snapshot_date DESC) = 1
) l
LEFT JOIN tmdb_movies m ON m.movie_id = l.movie_id
WHERE l.popularity_pct_change_7d > 0
ORDER BY gain_rank, l.movie_id
LIMIT 100;

CREATE OR REPLACE VIEW v_top_declining_movies AS
SELECT l.movie_id, m.title, l.snapshot_date, l.popularity AS current_popularity,
       l.popularity_pct_change_7d, l.popularity_7d_ma, l.popularity_wow_pct_change AS weekly_pct_change,
       RANK() OVER (ORDER BY l.popularity_pct_change_7d ASC) AS decline_rank
FROM (
  SELECT * FROM tmdb_movie_metrics WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY movie_id ORDER BY snapshot_date DESC) = 1
) l
LEFT JOIN tmdb_movies m ON m.movie_id = l.movie_id
WHERE l.popularity_pct_change_7d < 0
ORDER BY decline_rank, l.movie_id
LIMIT 100;

CREATE OR REPLACE VIEW v_vote_velocity_metrics AS
SELECT l.movie_id, m.title, l.snapshot_date, l.vote_count, l.vote_count_change_1d, l.vote_count_change_7d,
       l.vote_count_change_7d / 7.0 AS avg_daily_votes_7d, l.vote_velocity_7d, l.vote_acceleration_7d,
       CASE WHEN l.vote_count_change_7d IS NULL THEN NULL
            WHEN l.vote_count_change_7d / 7.0 >= 100 THEN 'Viral'
            WHEN l.vote_count_change_7d / 7.0 >= 50 THEN 'High Engagement'
            WHEN l.vote_count_change_7d / 7.0 >= 20 THEN 'Moderate Engagement'
            WHEN l.vote_count_change_7d / 7.0 >= 5 THEN 'Low Engagement'
            ELSE 'Minimal Engagement' END AS engagement_level
FROM (
  SELECT * FROM tmdb_movie_metrics WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY movie_id ORDER BY snapshot_date DESC) = 1
) l
LEFT JOIN tmdb_movies m ON m.movie_id = l.movie_id;

CREATE OR REPLACE VIEW v_viral_coefficient_scores AS
SELECT x.movie_id, m.title, x.snapshot_date AS calculation_date, x.popularity, x.vote_count,
       x.vote_velocity_7d, x.vote_acceleration_7d, x.viral_coefficient,
       PERCENT_RANK() OVER (PARTITION BY x.snapshot_date ORDER BY x.viral_coefficient) * 100
         AS viral_score_percentile,
       x.virality_category, x.trend_category
FROM tmdb_movie_metrics x
LEFT JOIN tmdb_movies m ON m.movie_id = x.movie_id
WHERE x.viral_coefficient IS NOT NULL;

CREATE OR REPLACE VIEW v_top_viral_movies AS
WITH latest AS (
  SELECT * FROM tmdb_movie_metrics WHERE viral_coefficient IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY movie_id ORDER BY snapshot_date DESC) = 1
)
SELECT l.movie_id, m.title, m.release_date, l.snapshot_date AS calculation_date,
       DATE_DIFF(l.snapshot_date, m.release_date, DAY) AS days_since_release,
       l.viral_coefficient, l.vote_velocity_7d AS avg_daily_votes, l.vote_acceleration_7d,
       l.virality_category, RANK() OVER (ORDER BY l.viral_coefficient DESC) AS viral_rank
FROM latest l
LEFT JOIN tmdb_movies m ON m.movie_id = l.movie_id
WHERE l.viral_coefficient >= 20
ORDER BY viral_rank, l.movie_id
LIMIT 100;

CREATE OR REPLACE VIEW v_emerging_viral_trends AS
WITH latest AS (
  SELECT * FROM tmdb_movie_metrics WHERE vote_acceleration_7d IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY movie_id ORDER BY snapshot_date DESC) = 1
)
SELECT l.movie_id, m.title, l.snapshot_date AS calculation_date, l.vote_velocity_7d,
       l.vote_acceleration_7d, l.viral_coefficient,
       l.viral_coefficient - COALESCE(w.viral_coefficient, 0) AS viral_score_change_7d,
       l.trend_category, l.virality_category
FROM latest l
LEFT JOIN tmdb_movie_metrics w
       ON w.movie_id = l.movie_id AND w.snapshot_date = CAST(DATE_SUB(l.snapshot_date, INTERVAL 7 DAY) AS DATE)
LEFT JOIN tmdb_movies m ON m.movie_id = l.movie_id
WHERE l.vote_acceleration_7d > 0 AND l.vote_velocity_7d >= 10
  AND (l.viral_coefficient > 30 OR l.vote_acceleration_7d > 5)
ORDER BY l.vote_acceleration_7d DESC, l.movie_id
LIMIT 100;
