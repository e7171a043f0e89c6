"""Brightcove assets: the CMS catalogue, recently viewed videos and daily per-video analytics.

The asset bodies only wire the client to the transforms; data rules live in `transforms.py`.

Functions import polars and the transforms where they run: every process loads this module with the
definitions, and only the steps need them. The assets return polars DataFrames; their signatures do
not say so, because Dagster resolves them when the asset is defined (other functions quote theirs).
"""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from video_analytics.brightcove.client import BrightcoveClient
from video_analytics.brightcove.resources import BrightcoveResource
from video_analytics.checks import (
    checks_per_day,
    per_day,
    references_check,
    rows_by_day,
    unique_check,
    within_check,
)
from video_analytics.partitions import daily_partitions, partition_days, trailing_days_request

if TYPE_CHECKING:
    import polars as pl

GROUP = "brightcove"
TAGS = {"video_analytics/api": "brightcove"}
PROVISIONAL_DAYS = 3  # Brightcove data younger than this still changes


#: Why cms_videos keeps every video by default, shown in the UI (asset description, launchpad, metadata).
UNFILTERED_WHY = (
    "By default every video is kept: cms_videos is the catalogue that daily_video_metrics and "
    "recently_viewed_videos take CMS fields from, and the original's own catalogue (its JSON) was "
    "unfiltered too; only its CSV kept ACTIVE, published videos created in 2024-2025. Filtering here would "
    "leave the views of older or deactivated videos without a name. The runbook's selection is counted "
    "in the materialization metadata (runbook_csv_videos); set states, require_published and "
    "created_years to apply it."
)


class CmsVideosConfig(dg.Config):
    """The runbook's CSV filter (ACTIVE, published, created 2024-2025), off by default: see UNFILTERED_WHY."""

    states: list[str] = Field(
        default_factory=list,
        description="Keep only these states, e.g. ['ACTIVE'] (the runbook's CSV). Empty: all. "
        + UNFILTERED_WHY,
    )
    require_published: bool = Field(
        default=False, description="Keep only videos with a published_at (the runbook's CSV)."
    )
    created_years: list[int] = Field(
        default_factory=list,
        description="Keep only videos created in these years (the runbook: [2024, 2025]).",
    )


class RecentlyViewedConfig(dg.Config):
    lookback_days: int = Field(
        default=90, ge=1, le=366, description="Window, in days, ending on the partition day."
    )
    only_active: bool = Field(
        default=True,
        description="Keep only ACTIVE videos, as the original's cache did (its publishing_state test was "
        "a no-op: the CMS API sends no such field). False: every catalogued video with views.",
    )


class DailyMetricsConfig(dg.Config):
    only_cms_videos: bool = Field(
        default=False,
        description="Drop rows of videos missing from cms_videos (the original's inner join) "
        "instead of keeping them with empty CMS fields.",
    )


def per_account(
    resource: BrightcoveResource,
    context: dg.AssetExecutionContext,
    fetch: "Callable[[BrightcoveClient, str, str], pl.DataFrame]",
) -> "tuple[pl.DataFrame, dict[str, int]]":
    """Run `fetch(client, channel, account_id)` for every account (in parallel) and stack the frames."""
    import polars as pl

    with resource.client() as client:

        def one(item: tuple[str, str]) -> "pl.DataFrame":
            channel, account_id = item
            frame = fetch(client, channel, account_id)
            context.log.info(f"brightcove {channel} ({account_id}): {frame.height} rows")
            return frame

        with ThreadPoolExecutor(max_workers=min(5, len(resource.accounts))) as pool:
            frames = list(pool.map(one, resource.accounts.items()))
        return pl.concat(frames, how="diagonal_relaxed"), client.counters()


@dg.asset(
    group_name=GROUP,
    kinds={"brightcove", "polars"},
    tags=TAGS,
    pool="brightcove",
    description="Every video of every configured Brightcove account with the runbook's CMS fields. "
    + UNFILTERED_WHY,
)
def cms_videos(
    context: dg.AssetExecutionContext, config: CmsVideosConfig, brightcove: BrightcoveResource
) -> dg.Output:
    from video_analytics.brightcove import transforms

    video_filter = transforms.CmsFilter(
        tuple(config.states), config.require_published, tuple(config.created_years)
    )

    def fetch(client: BrightcoveClient, channel: str, account_id: str) -> "pl.DataFrame":
        return transforms.cms_videos_frame(client.list_videos(account_id), channel, account_id)

    videos, counters = per_account(brightcove, context, fetch)
    kept = video_filter.apply(videos)
    context.log.info(f"cms_videos: {kept.height} of {videos.height} videos kept by the filter")
    filtered = bool(config.states or config.require_published or config.created_years)
    return dg.Output(
        kept,
        metadata={
            **counters,
            "videos_fetched": videos.height,
            "videos": kept.height,
            "runbook_csv_videos": transforms.RUNBOOK_FILTER.apply(videos).height,
            "filter": "as configured" if filtered else "none (default): " + UNFILTERED_WHY,
        },
    )


@dg.asset(
    group_name=GROUP,
    kinds={"brightcove", "polars"},
    tags=TAGS,
    pool="brightcove",
    partitions_def=daily_partitions(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Per day: the videos viewed in the look-back window ending that day, with last_viewed_date.",
)
def recently_viewed_videos(
    context: dg.AssetExecutionContext,
    config: RecentlyViewedConfig,
    brightcove: BrightcoveResource,
    cms_videos,
) -> dg.Output:
    import polars as pl

    from video_analytics.brightcove import transforms

    days = partition_days(context)
    first = days[0] - timedelta(days=config.lookback_days - 1)

    def fetch(client: BrightcoveClient, channel: str, account_id: str) -> "pl.DataFrame":
        views = transforms.views_frame(client.daily_views(account_id, first, days[-1]))
        recent = transforms.recently_viewed(views, days, config.lookback_days)
        account_cms = cms_videos.filter(pl.col("account_id") == account_id)
        if config.only_active:
            account_cms = account_cms.filter(pl.col("state").str.to_uppercase() == "ACTIVE")
        # every CMS field, as the original's cache file carried the whole catalogue record
        return transforms.with_cms(recent, account_cms, [c for c in account_cms.columns if c != "id"])

    frame, counters = per_account(brightcove, context, fetch)
    return dg.Output(
        frame, metadata={**counters, "videos": frame["video_id"].n_unique() if frame.height else 0}
    )


DAILY_CHECKS = [
    dg.AssetCheckSpec("unique_account_video_date", asset="daily_video_metrics", blocking=True),
    dg.AssetCheckSpec("counts_non_negative", asset="daily_video_metrics", blocking=True),
    dg.AssetCheckSpec("play_rate_within_0_1", asset="daily_video_metrics"),
    dg.AssetCheckSpec("videos_exist_in_cms", asset="daily_video_metrics"),
]


@dg.asset(
    group_name=GROUP,
    kinds={"brightcove", "polars"},
    tags=TAGS,
    pool="brightcove",
    partitions_def=daily_partitions(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=per_day(DAILY_CHECKS),
    description="One row per account, video and day with every column of the runbook's daily CSV.",
)
def daily_video_metrics(
    context: dg.AssetExecutionContext,
    config: DailyMetricsConfig,
    brightcove: BrightcoveResource,
    cms_videos,
) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    import polars as pl

    from video_analytics.brightcove import transforms

    days = partition_days(context)
    generated_on = datetime.now(UTC)
    context.log.info(f"daily_video_metrics: {days[0]}..{days[-1]} for {len(brightcove.accounts)} accounts")

    def fetch(client: BrightcoveClient, channel: str, account_id: str) -> "pl.DataFrame":
        metrics = transforms.metrics_frame(client.daily_metrics(account_id, days[0], days[-1]))
        devices = transforms.device_views_frame(client.daily_device_views(account_id, days[0], days[-1]))
        return transforms.daily_video_metrics(
            metrics,
            devices,
            cms_videos.filter(pl.col("account_id") == account_id),
            generated_on,
            channel=channel,
            account_id=account_id,
            only_cms_videos=config.only_cms_videos,
        )

    frame, counters = per_account(brightcove, context, fetch)
    yield dg.Output(
        frame,
        metadata={
            **counters,
            "total_views": int(frame["video_view"].sum()) if frame.height else 0,
            "videos": frame["video_id"].n_unique() if frame.height else 0,
        },
    )
    day_rows = rows_by_day(frame, "date")
    yield from checks_per_day(context, lambda day: daily_checks(day_rows(day), cms_videos))


def daily_checks(frame: "pl.DataFrame", cms: "pl.DataFrame") -> Iterator[dg.AssetCheckResult]:
    """The data rules of `daily_video_metrics`, evaluated on exactly the rows being written."""
    import polars as pl

    from video_analytics.brightcove import transforms

    yield unique_check("unique_account_video_date", frame, ["account_id", "video_id", "date"])
    count_columns = ["video_view", "video_impression", *transforms.DEVICE_COLUMNS]
    negative = frame.filter(pl.any_horizontal(pl.col(c) < 0 for c in count_columns)).height
    yield dg.AssetCheckResult(
        check_name="counts_non_negative", passed=negative == 0, metadata={"rows": negative}
    )
    yield within_check("play_rate_within_0_1", frame, "play_rate", 0, 1)
    yield references_check(
        "videos_exist_in_cms",
        frame,
        ["account_id", "video_id"],
        cms.select("account_id", pl.col("id").alias("video_id")),
        "Videos with analytics but absent from cms_videos: re-materialize cms_videos.",
    )


@dg.schedule(
    cron_schedule="0 6 * * *",
    target=[cms_videos, daily_video_metrics, recently_viewed_videos],
    execution_timezone="UTC",
    name="brightcove_daily",
    description="Every morning, in one run: refresh the CMS catalogue (new videos), then re-pull the last "
    "three days (Brightcove's provisional window).",
)
def brightcove_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return trailing_days_request("brightcove", context.scheduled_execution_time, PROVISIONAL_DAYS)


assets = [cms_videos, recently_viewed_videos, daily_video_metrics]
schedules = [brightcove_daily_schedule]
