"""The one place that assembles Definitions: every source's definitions plus the shared storage."""

from __future__ import annotations

import dagster as dg

from video_analytics import distributed
from video_analytics.agora import definitions as agora
from video_analytics.brightcove import definitions as brightcove
from video_analytics.dailymotion import definitions as dailymotion
from video_analytics.partitions import with_start_date
from video_analytics.policies import apply_house_policies, automation_sensor
from video_analytics.required_env import require_env_vars
from video_analytics.settings import Settings
from video_analytics.storage.parquet import ParquetLakeIOManager
from video_analytics.tmdb import definitions as tmdb
from video_analytics.unified import definitions as unified
from video_analytics.warehouse import definitions as warehouse
from video_analytics.wistia import definitions as wistia

#: Each source package has a `definitions.py` with `build(settings)`; the cross-platform tables
#: come after the sources they read, the warehouse views (downstream of every table) last.
SOURCES = (brightcove, dailymotion, wistia, tmdb, agora, unified, warehouse)


def io_manager(settings: Settings) -> dg.ConfigurableIOManager:
    """The lake, for every asset: a warehouse target (bigquery, redshift) is applied by the sources
    whose tables load there (DailyMotion, Wistia), through their own IO manager keys."""
    return ParquetLakeIOManager(root=settings.lake_root)


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    shared = dg.Definitions(
        resources={"io_manager": io_manager(settings)},
        sensors=[automation_sensor],
        executor=distributed.executor(settings),
    )
    merged = dg.Definitions.merge(shared, *(source.build(settings) for source in SOURCES))
    if not settings.is_sandbox and settings.secrets_check == "load":
        require_env_vars(merged.resources, settings.profile)
    merged = with_start_date(merged, settings.start_date)  # the settings passed in, not those at import
    return apply_house_policies(merged, settings.owners)


defs = build_definitions()
