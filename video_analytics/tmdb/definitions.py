"""TMDB's contribution to the platform: assets, schedules, resource and storage choice.

Its warehouse views (the original's nine analytics views and its table names `movies`,
`movie_daily_snapshots`, `movie_metrics_aggregated`, `ingestion_log`) are written once in
`video_analytics/warehouse/sql/tmdb_*.sql` and built by the warehouse assets, in DuckDB and, when TMDB
is stored there, in BigQuery.
"""

from __future__ import annotations

import os

import dagster as dg

from video_analytics.settings import Settings, SettingsError
from video_analytics.storage.targets import io_manager_for, storage_kind, with_storage_kind
from video_analytics.tmdb import assets
from video_analytics.tmdb.resources import TMDBResource

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
    """TMDB's tables go to the lake, or to BigQuery where the original lived (see storage/targets.py)."""
    return dg.Definitions(
        assets=with_storage_kind(assets.assets, storage_kind(settings, "tmdb")),
        schedules=assets.schedules,
        resources={"tmdb": resource(settings), assets.IO_MANAGER_KEY: io_manager_for(settings, "tmdb")},
    )
