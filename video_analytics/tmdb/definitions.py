"""TMDB's contribution to the platform: assets, schedules, resource, storage choice and demo steps.

Its warehouse views (the original's nine analytics views and its table names `movies`,
`movie_daily_snapshots`, `movie_metrics_aggregated`, `ingestion_log`) are written once in
`video_analytics/warehouse/sql/tmdb_*.sql` and built by the warehouse assets, in DuckDB and, when TMDB
is stored there, in BigQuery.
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from video_analytics.demo_steps import DemoStep
from video_analytics.settings import Settings
from video_analytics.storage.targets import storage_kind, with_storage_kind
from video_analytics.tmdb import assets
from video_analytics.tmdb.resources import build_resources

#: Extra days of snapshots the demo takes before its range: vote acceleration compares the last 7 days
#: with the 7 before (a 14-day lag), so every demo day, and v_emerging_viral_trends, has it.
DEMO_HISTORY_DAYS = 14

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


def build(settings: Settings) -> dg.Definitions:
    """TMDB's tables go to the lake, or to BigQuery where the original lived (see storage/targets.py)."""
    return dg.Definitions(
        assets=with_storage_kind(assets.assets, storage_kind(settings, "tmdb")),
        schedules=assets.schedules,
        resources=build_resources(settings),
    )
