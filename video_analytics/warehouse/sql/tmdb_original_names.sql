-- The TMDB original's table names, as views over ours, so its users' queries run unchanged
-- (`SELECT COUNT(*) FROM movies`, ...). BigQuery dialect, translated for DuckDB like tmdb_views.sql.
-- Columns follow the original's schema/*.sql; the day-over-day and 7-day figures come from
-- tmdb_movie_metrics (calendar-day lags, NULL until that day's metrics are materialized).

CREATE OR REPLACE VIEW movies AS
SELECT * FROM tmdb_movies;

CREATE OR REPLACE VIEW movie_daily_snapshots AS
SELECT s.movie_id, s.snapshot_date, s.popularity, s.vote_count, s.vote_average,
       x.popularity_change_1d, x.popularity_change_7d, x.popularity_pct_change_1d,
       x.popularity_pct_change_7d, x.vote_count_change_1d, x.vote_count_change_7d,
       x.vote_count_pct_change_1d, x.vote_count_pct_change_7d, s.ingestion_timestamp
FROM tmdb_snapshots s
LEFT JOIN tmdb_movie_metrics x ON x.movie_id = s.movie_id AND x.snapshot_date = s.snapshot_date;

CREATE OR REPLACE VIEW movie_metrics_aggregated AS
SELECT movie_id, calculation_date, popularity_7d_ma, popularity_wow_change, popularity_wow_pct_change,
       vote_velocity_7d, vote_acceleration_7d, viral_coefficient, trend_category
FROM tmdb_movie_metrics;

-- The original logged each DAG run; here each snapshot day of the lake is one entry, from what the
-- platform records with the data: the run's ingestion time, how many movies it fetched (from the
-- ranked list and from the changes feed), the snapshots written and whether the day's metrics exist.
-- A re-run replaces its day, so the log shows the run whose data is current.
CREATE OR REPLACE VIEW ingestion_log AS
WITH runs AS (
  SELECT snapshot_date, MIN(ingestion_timestamp) AS started_at, MAX(ingestion_timestamp) AS finished_at,
         COUNT(DISTINCT movie_id) AS movies_fetched, COUNT(*) AS snapshots_written,
         COUNTIF(source = 'list') AS movies_from_list, COUNTIF(source <> 'list') AS movies_from_changes
  FROM tmdb_snapshots
  GROUP BY snapshot_date
),
metrics AS (
  SELECT snapshot_date, COUNT(*) AS metric_rows FROM tmdb_movie_metrics GROUP BY snapshot_date
)
SELECT 'daily_snapshot' AS job_type, r.snapshot_date AS execution_date, r.started_at, r.finished_at,
       r.movies_fetched, r.snapshots_written, r.movies_from_list, r.movies_from_changes,
       COALESCE(m.metric_rows, 0) AS metric_rows,
       IF(m.metric_rows IS NULL, 'metrics_pending', 'success') AS status
FROM runs r
LEFT JOIN metrics m ON m.snapshot_date = r.snapshot_date;
