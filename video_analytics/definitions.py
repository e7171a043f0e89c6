"""The one place that assembles Definitions: every source's definitions plus the shared storage."""

from __future__ import annotations

import dagster as dg

from video_analytics.brightcove import definitions as brightcove
from video_analytics.settings import Settings, SettingsError
from video_analytics.storage.parquet import ParquetLakeIOManager
from video_analytics.tmdb import definitions as tmdb
from video_analytics.wistia import definitions as wistia

#: Each source package has a `definitions.py` with `build(settings)` and `DEMO_STEPS`.
SOURCES = (brightcove, wistia, tmdb)


def io_manager(settings: Settings) -> dg.ConfigurableIOManager:
    """The lake for every asset; a warehouse target (redshift) is applied by the sources that load it."""
    if settings.storage not in ("parquet", "redshift"):
        raise SettingsError(
            f"VIDEO_ANALYTICS_STORAGE={settings.storage} is not available for these assets yet; use parquet"
        )
    return ParquetLakeIOManager(root=settings.lake_root)


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    shared = dg.Definitions(resources={"io_manager": io_manager(settings)})
    return dg.Definitions.merge(shared, *(source.build(settings) for source in SOURCES))


defs = build_definitions()
