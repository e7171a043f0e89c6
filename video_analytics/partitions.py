"""The one daily partitioning (UTC) shared by every daily asset, so backfills line up across sources."""

from __future__ import annotations

from functools import cache

import dagster as dg

from video_analytics.settings import Settings


@cache
def daily_partitions(start_date: str | None = None) -> dg.DailyPartitionsDefinition:
    """Daily partitions from VIDEO_ANALYTICS_START_DATE; the last partition is yesterday (UTC)."""
    return dg.DailyPartitionsDefinition(
        start_date=start_date or Settings.from_env().start_date,
        timezone="UTC",
        fmt="%Y-%m-%d",
    )
