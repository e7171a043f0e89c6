"""TMDB's contribution to the platform: assets, schedules, resource and storage choice.

Its warehouse views (the original's nine analytics views and its table names `movies`,
`movie_daily_snapshots`, `movie_metrics_aggregated`, `ingestion_log`) are written once in
`video_analytics/warehouse/sql/tmdb_*.sql` and built by the warehouse assets, in DuckDB and, when TMDB
is stored there, in BigQuery.
"""

from __future__ import annotations

import dagster as dg

from video_analytics.settings import Settings
from video_analytics.storage.targets import storage_kind, with_storage_kind
from video_analytics.tmdb import assets
from video_analytics.tmdb.resources import build_resources


def build(settings: Settings) -> dg.Definitions:
    """TMDB's tables go to the lake, or to BigQuery where the original lived (see storage/targets.py)."""
    return dg.Definitions(
        assets=with_storage_kind(assets.assets, storage_kind(settings, "tmdb")),
        schedules=assets.schedules,
        resources=build_resources(settings),
    )
