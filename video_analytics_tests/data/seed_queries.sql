-- The example queries of the original systems' documents, copied unchanged except for the
-- `project.dataset.` / `YOUR_PROJECT.tmdb_analytics.` prefix, which DuckDB does not have.
-- Only the TMDB document (seed 004) has example queries; the other four seeds have none.
-- Statements are separated by `;` at the end of a line; each must return rows after the demo.

-- seed 004, "Verify data loaded"
SELECT COUNT(*) as count FROM `movies`;

-- seed 004, "Example Queries": Top 10 movies gaining traction
SELECT title, weekly_pct_change, current_popularity
FROM `v_top_gaining_movies`
LIMIT 10;

-- seed 004, "Example Queries": Movies becoming viral
SELECT title, viral_coefficient, avg_daily_votes, virality_category
FROM `v_top_viral_movies`
WHERE viral_rank <= 20;

-- seed 004, "Example Queries": Emerging viral trends
SELECT title, vote_acceleration_7d, viral_score_change_7d, trend_category
FROM `v_emerging_viral_trends`
LIMIT 10;
