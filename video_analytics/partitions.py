"""The one daily partitioning (UTC) shared by every daily asset, so backfills line up across sources."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache

import dagster as dg
from dagster_shared.record import replace

from video_analytics.settings import DEFAULT_START_DATE


@cache
def daily_partitions(start_date: str = DEFAULT_START_DATE) -> dg.DailyPartitionsDefinition:
    """Daily partitions from `start_date`; the last partition is yesterday (UTC).

    Assets are declared on the default start (modules read no environment when imported);
    `with_start_date` moves them to the deployment's when `build_definitions(settings)` assembles them.
    """
    return dg.DailyPartitionsDefinition(start_date=start_date, timezone="UTC", fmt="%Y-%m-%d")


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


def with_start_date(defs: dg.Definitions, start_date: str) -> dg.Definitions:
    """`defs` with every asset and check (also `@multi_asset_check`s) on the shared daily partitions
    moved to `start_date`.

    Assets are declared at import time with `daily_partitions()` (the default start date); the
    settings a caller passes to `build_definitions` decide, so a sandbox and a deployment built side by
    side (tests, the demo) each get their own first day.
    """
    target = daily_partitions(start_date)
    return replace(
        defs,
        assets=[_moved(asset, target) for asset in defs.assets or ()],
        asset_checks=[_moved(checks, target) for checks in defs.asset_checks or ()],
    )


def _is_shared_daily(partitions_def: dg.PartitionsDefinition | None) -> bool:
    return (
        isinstance(partitions_def, dg.TimeWindowPartitionsDefinition)
        and partitions_def.cron_schedule == "0 0 * * *"
        and partitions_def.timezone == "UTC"
        and partitions_def.fmt == "%Y-%m-%d"
        and partitions_def.end is None
    )


def _moved(asset: object, target: dg.DailyPartitionsDefinition) -> object:
    if not isinstance(asset, dg.AssetsDefinition) or not _is_shared_daily(asset.partitions_def):
        return asset
    if asset.partitions_def == target:
        return asset
    specs = [
        spec.replace_attributes(partitions_def=target) if _is_shared_daily(spec.partitions_def) else spec
        for spec in asset.specs
    ]
    checks = {
        name: replace(spec, partitions_def=target) if _is_shared_daily(spec.partitions_def) else spec
        for name, spec in asset.node_check_specs_by_output_name.items()
    }
    return asset.__class__.dagster_internal_init(
        **{**asset.get_attributes_dict(), "specs": specs, "check_specs_by_output_name": checks}
    )
