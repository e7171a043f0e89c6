"""TMDB's contribution to the platform: assets, schedules, resource, demo steps and warehouse views.

The views keep the original's names and meaning (`queries/*_views.sql`), but read the precomputed
calendar-day metrics of `tmdb_movie_metrics` instead of re-lagging rows, and take "latest per
movie" in a subquery *before* filtering and ranking (the original filtered first; see transforms.py).
`bigquery_views.sql` next to this file holds the same views for BigQuery users.
"""

from __future__ import annotations

import os
from datetime import date, timedelta

import dagster as dg

from video_analytics.demo_steps import DemoStep
from video_analytics.settings import Settings, SettingsError
from video_analytics.tmdb import assets
from video_analytics.tmdb.resources import TMDBResource

#: Extra days of snapshots the demo takes before its range, so 7- and 14-day lags have history.
DEMO_HISTORY_DAYS = 7

_LATEST_METRICS = """
    SELECT * FROM tmdb_movie_metrics
    QUALIFY row_number() OVER (PARTITION BY movie_id ORDER BY snapshot_date DESC) = 1
"""

WAREHOUSE_SQL: tuple[str, ...] = (
    f"""
CREATE OR REPLACE VIEW v_latest_popularity_metrics AS
SELECT l.movie_id, m.title, m.release_date, l.snapshot_date, l.popularity, l.vote_count, l.vote_average,
       l.popularity_change_1d, l.popularity_pct_change_1d, l.popularity_change_7d,
       l.popularity_pct_change_7d, l.vote_count_change_1d, l.vote_count_change_7d, l.momentum_status
FROM ({_LATEST_METRICS}) l
LEFT JOIN tmdb_movies m ON m.movie_id = l.movie_id
""",
    """
CREATE OR REPLACE VIEW v_popularity_7d_moving_average AS
SELECT x.movie_id, m.title, x.snapshot_date, x.popularity, x.popularity_7d_ma,
       x.popularity - x.popularity_7d_ma AS deviation_from_ma, x.popularity_volatility_7d
FROM tmdb_movie_metrics x
LEFT JOIN tmdb_movies m ON m.movie_id = x.movie_id
""",
    """
CREATE OR REPLACE VIEW v_popularity_wow_comparison AS
WITH weekly AS (
    -- BigQuery's DATE_TRUNC(d, WEEK) starts weeks on Sunday; DuckDB's dayofweek(Sunday) = 0.
    SELECT movie_id, CAST(snapshot_date - CAST(dayofweek(snapshot_date) AS INTEGER) AS DATE) AS week_start,
           avg(popularity) AS avg_popularity, max(popularity) AS max_popularity,
           min(popularity) AS min_popularity, count(*) AS days_observed
    FROM tmdb_snapshots
    GROUP BY 1, 2
)
SELECT w.movie_id, m.title, w.week_start, w.avg_popularity, w.max_popularity, w.min_popularity,
       w.days_observed, p.avg_popularity AS prev_week_avg_popularity,
       CASE WHEN p.avg_popularity IS NULL OR p.avg_popularity = 0 THEN NULL
            ELSE (w.avg_popularity - p.avg_popularity) / p.avg_popularity * 100 END AS wow_pct_change
FROM weekly w
LEFT JOIN weekly p ON p.movie_id = w.movie_id AND p.week_start = CAST(w.week_start - 7 AS DATE)
LEFT JOIN tmdb_movies m ON m.movie_id = w.movie_id
""",
    f"""
CREATE OR REPLACE VIEW v_top_gaining_movies AS
SELECT l.movie_id, m.title, l.snapshot_date, l.popularity AS current_popularity,
       l.popularity_pct_change_7d, l.popularity_7d_ma, l.popularity_wow_pct_change AS weekly_pct_change,
       rank() OVER (ORDER BY l.popularity_pct_change_7d DESC) AS gain_rank
FROM ({_LATEST_METRICS}) l
LEFT JOIN tmdb_movies m ON m.movie_id = l.movie_id
WHERE l.popularity_pct_change_7d > 0
ORDER BY gain_rank, l.movie_id
LIMIT 100
""",
    f"""
CREATE OR REPLACE VIEW v_top_declining_movies AS
SELECT l.movie_id, m.title, l.snapshot_date, l.popularity AS current_popularity,
       l.popularity_pct_change_7d, l.popularity_7d_ma, l.popularity_wow_pct_change AS weekly_pct_change,
       rank() OVER (ORDER BY l.popularity_pct_change_7d ASC) AS decline_rank
FROM ({_LATEST_METRICS}) l
LEFT JOIN tmdb_movies m ON m.movie_id = l.movie_id
WHERE l.popularity_pct_change_7d < 0
ORDER BY decline_rank, l.movie_id
LIMIT 100
""",
    f"""
CREATE OR REPLACE VIEW v_vote_velocity_metrics AS
SELECT l.movie_id, m.title, l.snapshot_date, l.vote_count, l.vote_count_change_1d, l.vote_count_change_7d,
       l.vote_count_change_7d / 7.0 AS avg_daily_votes_7d, l.vote_velocity_7d, l.vote_acceleration_7d,
       CASE WHEN l.vote_count_change_7d IS NULL THEN NULL
            WHEN l.vote_count_change_7d / 7.0 >= 100 THEN 'Viral'
            WHEN l.vote_count_change_7d / 7.0 >= 50 THEN 'High Engagement'
            WHEN l.vote_count_change_7d / 7.0 >= 20 THEN 'Moderate Engagement'
            WHEN l.vote_count_change_7d / 7.0 >= 5 THEN 'Low Engagement'
            ELSE 'Minimal Engagement' END AS engagement_level
FROM ({_LATEST_METRICS}) l
LEFT JOIN tmdb_movies m ON m.movie_id = l.movie_id
""",
    """
CREATE OR REPLACE VIEW v_viral_coefficient_scores AS
SELECT x.movie_id, m.title, x.snapshot_date AS calculation_date, x.popularity, x.vote_count,
       x.vote_velocity_7d, x.vote_acceleration_7d, x.viral_coefficient,
       percent_rank() OVER (PARTITION BY x.snapshot_date ORDER BY x.viral_coefficient) * 100
           AS viral_score_percentile,
       x.virality_category, x.trend_category
FROM tmdb_movie_metrics x
LEFT JOIN tmdb_movies m ON m.movie_id = x.movie_id
WHERE x.viral_coefficient IS NOT NULL
""",
    """
CREATE OR REPLACE VIEW v_top_viral_movies AS
WITH latest AS (
    SELECT * FROM tmdb_movie_metrics WHERE viral_coefficient IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY movie_id ORDER BY snapshot_date DESC) = 1
)
SELECT l.movie_id, m.title, m.release_date, l.snapshot_date AS calculation_date,
       date_diff('day', m.release_date, l.snapshot_date) AS days_since_release,
       l.viral_coefficient, l.vote_velocity_7d AS avg_daily_votes, l.vote_acceleration_7d,
       l.virality_category, rank() OVER (ORDER BY l.viral_coefficient DESC) AS viral_rank
FROM latest l
LEFT JOIN tmdb_movies m ON m.movie_id = l.movie_id
WHERE l.viral_coefficient >= 20
ORDER BY viral_rank, l.movie_id
LIMIT 100
""",
    """
CREATE OR REPLACE VIEW v_emerging_viral_trends AS
WITH latest AS (
    SELECT * FROM tmdb_movie_metrics WHERE vote_acceleration_7d IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY movie_id ORDER BY snapshot_date DESC) = 1
)
SELECT l.movie_id, m.title, l.snapshot_date AS calculation_date, l.vote_velocity_7d,
       l.vote_acceleration_7d, l.viral_coefficient,
       l.viral_coefficient - COALESCE(w.viral_coefficient, 0) AS viral_score_change_7d,
       l.trend_category, l.virality_category
FROM latest l
LEFT JOIN tmdb_movie_metrics w
       ON w.movie_id = l.movie_id AND w.snapshot_date = CAST(l.snapshot_date - 7 AS DATE)
LEFT JOIN tmdb_movies m ON m.movie_id = l.movie_id
WHERE l.vote_acceleration_7d > 0 AND l.vote_velocity_7d >= 10
  AND (l.viral_coefficient > 30 OR l.vote_acceleration_7d > 5)
ORDER BY l.vote_acceleration_7d DESC, l.movie_id
LIMIT 100
""",
)

VIEW_NAMES = (
    "v_latest_popularity_metrics",
    "v_popularity_7d_moving_average",
    "v_popularity_wow_comparison",
    "v_top_gaining_movies",
    "v_top_declining_movies",
    "v_vote_velocity_metrics",
    "v_viral_coefficient_scores",
    "v_top_viral_movies",
    "v_emerging_viral_trends",
)


def demo_runner(defs: dg.Definitions, instance: dg.DagsterInstance, partition_range: tuple[str, str]):
    """Snapshots from DEMO_HISTORY_DAYS before the demo range (the sandbox clock replays them), then
    the metrics over the range, so the 7-day windows and the views have history to work with."""
    from video_analytics.demo import run_step  # the demo imports the definitions, not vice versa

    first = date.fromisoformat(partition_range[0]) - timedelta(days=DEMO_HISTORY_DAYS)
    history = (first.isoformat(), partition_range[1])
    summary = run_step(DemoStep("snapshots", ("tmdb_snapshots",), True), defs, instance, history)
    summary.update(
        run_step(DemoStep("metrics", ("tmdb_movie_metrics",), True), defs, instance, partition_range)
    )
    return summary


DEMO_STEPS = (
    DemoStep("TMDB initial load (1000 most popular movies)", ("tmdb_movies",), partitioned=False),
    DemoStep(
        "TMDB snapshots and popularity/virality metrics",
        ("tmdb_snapshots", "tmdb_movie_metrics"),
        partitioned=True,
        runner=demo_runner,
    ),
)


def resource(settings: Settings) -> TMDBResource:
    """The read token wins over the v3 key when both are set; both stay EnvVars (never logged)."""
    credentials: dict[str, object]
    if os.environ.get("TMDB_READ_ACCESS_TOKEN"):
        credentials = {"read_access_token": dg.EnvVar("TMDB_READ_ACCESS_TOKEN")}
    else:
        credentials = {"api_key": dg.EnvVar("TMDB_API_KEY")}
    base_url = {"base_url": os.environ["TMDB_BASE_URL"]} if os.environ.get("TMDB_BASE_URL") else {}
    rate = os.environ.get("TMDB_REQUESTS_PER_SECOND", "").strip()  # the demo's faster sandbox
    pace = {"rate_limit": _requests_per_second(rate)} if rate else {}
    return TMDBResource(**credentials, **base_url, **pace, sandbox_clock=settings.is_sandbox)


def _requests_per_second(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = 0.0
    if rate <= 0:
        raise SettingsError(f"TMDB_REQUESTS_PER_SECOND={text!r} is not a positive number (requests a second)")
    return rate


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=assets.assets,
        schedules=assets.schedules,
        resources={"tmdb": resource(settings)},
    )
