"""The one daily partitioning (UTC) shared by every daily asset, so backfills line up across sources."""

from __future__ import annotations

from datetime import date, datetime, timedelta
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


RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_range_tags(start: date | str, end: date | str) -> dict[str, str]:
    """Run tags that make one run cover every daily partition from `start` to `end` (inclusive)."""
    return {RANGE_START_TAG: str(start), RANGE_END_TAG: str(end)}


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The days of the run's partition range, in order (one run may cover many with single-run backfills)."""
    window = context.partition_time_window
    return [window.start.date() + timedelta(days=i) for i in range((window.end - window.start).days)]


def previous_day(scheduled: datetime) -> str:
    """The last complete day (UTC) before a schedule tick: the partition a nightly run is for."""
    return (scheduled.date() - timedelta(days=1)).isoformat()


def trailing_days_request(name: str, scheduled: datetime, days: int) -> dg.RunRequest:
    """A schedule's run over the `days` complete days before `scheduled`, e.g. to re-pull late data."""
    end = scheduled.date() - timedelta(days=1)
    tags = partition_range_tags(end - timedelta(days=days - 1), end)
    return dg.RunRequest(run_key=f"{name}-{end.isoformat()}", tags=tags)
