"""Wistia assets: the seed's dimensional model (dim_media, dim_visitors, fact_*), checks, schedule.

The bodies only wire the client to the transforms. Every asset stores through `wistia_io_manager`,
which `definitions.build()` points at the Parquet lake, the Glue-catalogued S3 lake or Redshift.

Functions import polars and the transforms where they run: every process loads this module with the
definitions, and only the steps need them. The assets return polars DataFrames; their signatures do
not say so, because Dagster resolves them when the asset is defined (other functions quote theirs).
"""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import dagster as dg

from video_analytics.checks import (
    checks_per_day,
    per_day,
    references_check,
    rows_by_day,
    unique_check,
    within_check,
)
from video_analytics.partitions import daily_partitions, partition_days, trailing_days_request
from video_analytics.storage.parquet import LAKE_TABLE
from video_analytics.wistia.client import RETENTION_DAYS, WistiaClient
from video_analytics.wistia.resources import IO_MANAGER, WistiaResource

if TYPE_CHECKING:
    import polars as pl

GROUP = "wistia"
TAGS = {"video_analytics/api": "wistia"}
KINDS = {"wistia", "polars", "parquet"}
WORKERS = 4


def table(name: str) -> dict[str, Any]:
    """Asset metadata naming the table the seed gave it (`dim_media`, …): the lake writes the folder
    `<root>/<name>/` (the original's S3 prefixes), and Glue and the Redshift loader use the same name."""
    return {LAKE_TABLE: name}


def per_media(client: WistiaClient, media_ids: list[str], fetch: Callable[[str], Any]) -> dict[str, Any]:
    """`fetch(hashed_id)` for every media, in parallel (the client paces the whole account)."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(zip(media_ids, pool.map(fetch, media_ids), strict=True))


def _first_day(created: str | None, fallback: date) -> date:
    return date.fromisoformat(created[:10]) if created else fallback


# -- dim_media ------------------------------------------------------------------------------------


@dg.asset(
    group_name=GROUP,
    kinds=KINDS,
    tags=TAGS,
    pool="wistia",
    io_manager_key=IO_MANAGER,
    metadata=table("dim_media"),
    check_specs=[dg.AssetCheckSpec("unique_media_id", asset="wistia_dim_media", blocking=True)],
    description="Every media of the account (archived ones included and flagged), from the Data API.",
)
def wistia_dim_media(
    context: dg.AssetExecutionContext, wistia: WistiaResource
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    from video_analytics.wistia import transforms

    with wistia.client() as client:
        frame = transforms.dim_media(client.list_medias())
        counters = client.counters()
    context.log.info(f"wistia_dim_media: {frame.height} media, {int(frame['archived'].sum())} archived")
    yield unique_check("unique_media_id", frame, "id")
    yield dg.Output(
        frame,
        metadata={**counters, "media": frame.height, "archived": int(frame["archived"].sum())},
    )


# -- engagement facts -----------------------------------------------------------------------------

ENGAGEMENT_CHECKS = [
    dg.AssetCheckSpec("unique_media_date", asset="wistia_fact_engagements", blocking=True),
    dg.AssetCheckSpec("play_rate_within_0_1", asset="wistia_fact_engagements"),
    dg.AssetCheckSpec("unique_media_date", asset="wistia_fact_engagements_byday", blocking=True),
]


@dg.multi_asset(
    outs={
        "wistia_fact_engagements_byday": dg.AssetOut(
            io_manager_key=IO_MANAGER,
            kinds=KINDS,
            metadata=table("fact_engagements_byday"),
            description="Loads, plays and hours watched per media and day, from by_date.",
        ),
        "wistia_fact_engagements": dg.AssetOut(
            io_manager_key=IO_MANAGER,
            kinds=KINDS,
            metadata=table("fact_engagements"),
            description="Each media's stats as of that day (cumulative through the day).",
        ),
    },
    group_name=GROUP,
    op_tags=TAGS,
    pool="wistia",
    partitions_def=daily_partitions(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=per_day(ENGAGEMENT_CHECKS),
)
def wistia_engagements(
    context: dg.AssetExecutionContext, wistia: WistiaResource, wistia_dim_media
) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    """One `by_date` call per media covers a whole backfill: the history up to the run's last day."""
    import polars as pl

    from video_analytics.wistia import transforms

    days = partition_days(context)
    snapshot_day = datetime.now(UTC).date() - timedelta(days=1)
    created = dict(zip(wistia_dim_media["hashed_id"], wistia_dim_media["created"], strict=True))
    media_ids = sorted(created)
    context.log.info(f"wistia engagements {days[0]}..{days[-1]} for {len(media_ids)} media")
    with wistia.client() as client:
        history = per_media(
            client,
            media_ids,
            lambda m: client.media_by_date(m, min(_first_day(created[m], days[0]), days[0]), days[-1]),
        )
        snapshots = per_media(client, media_ids, client.media_stats) if snapshot_day in days else {}
        counters = client.counters()
    byday_all = transforms.byday_rows(history)
    byday = byday_all.filter(
        pl.col("date").is_between(pl.lit(days[0].isoformat()), pl.lit(days[-1].isoformat()))
    )
    engagements = transforms.engagements_as_of(byday_all, days, snapshots, snapshot_day)
    yield dg.Output(
        byday,
        output_name="wistia_fact_engagements_byday",
        metadata={**counters, "total_plays": int(byday["play_count"].sum())},
    )
    yield dg.Output(
        engagements,
        output_name="wistia_fact_engagements",
        metadata={"media": engagements["media_id"].n_unique(), "snapshot_day": str(snapshot_day)},
    )
    engagements_of, byday_of = rows_by_day(engagements, "date"), rows_by_day(byday, "date")
    yield from checks_per_day(context, lambda day: engagement_checks(engagements_of(day), byday_of(day)))


def engagement_checks(engagements: "pl.DataFrame", byday: "pl.DataFrame") -> Iterator[dg.AssetCheckResult]:
    for asset, frame in (("wistia_fact_engagements", engagements), ("wistia_fact_engagements_byday", byday)):
        yield unique_check("unique_media_date", frame, ["media_id", "date"], asset_key=asset)
    yield within_check(
        "play_rate_within_0_1", engagements, "play_rate", 0, 1, asset_key="wistia_fact_engagements"
    )


# -- engagement graph -----------------------------------------------------------------------------


@dg.asset(
    group_name=GROUP,
    kinds=KINDS,
    tags=TAGS,
    pool="wistia",
    io_manager_key=IO_MANAGER,
    metadata=table("fact_engagement_graph"),
    description="The latest engagement and rewatch series of every media.",
)
def wistia_fact_engagement_graph(
    context: dg.AssetExecutionContext, wistia: WistiaResource, wistia_dim_media
) -> dg.Output:
    from video_analytics.wistia import transforms

    media_ids = sorted(wistia_dim_media["hashed_id"])
    with wistia.client() as client:
        frame = transforms.engagement_graph(per_media(client, media_ids, client.media_engagement))
        counters = client.counters()
    context.log.info(f"wistia_fact_engagement_graph: {frame.height} media")
    mean = frame["engagement"].mean() if frame.height else None
    return dg.Output(frame, metadata={**counters, "mean_engagement": float(mean or 0.0)})


# -- events and visitors --------------------------------------------------------------------------

EVENT_CHECKS = [
    dg.AssetCheckSpec("unique_event_key", asset="wistia_fact_events", blocking=True),
    dg.AssetCheckSpec("percent_viewed_within_0_1", asset="wistia_fact_events"),
    dg.AssetCheckSpec("events_reference_media", asset="wistia_fact_events"),
]


@dg.asset(
    group_name=GROUP,
    kinds=KINDS,
    tags=TAGS,
    pool="wistia",
    io_manager_key=IO_MANAGER,
    partitions_def=daily_partitions(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={**table("fact_events"), "partition_column": "received_at"},
    check_specs=per_day(EVENT_CHECKS),
    description="Every viewing event, one row per event_key, partitioned by the day it was received.",
)
def wistia_fact_events(
    context: dg.AssetExecutionContext, wistia: WistiaResource, wistia_dim_media
) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    from video_analytics.wistia import transforms

    days = partition_days(context)
    oldest = datetime.now(UTC).date() - timedelta(days=RETENTION_DAYS)
    if days[0] < oldest:
        raise dg.Failure(
            f"Wistia keeps events for two years only: {days[0]} is before {oldest}; "
            "backfill wistia_fact_events from that day on."
        )
    with wistia.client() as client:
        frame = transforms.fact_events(client.events(days[0], days[-1]))
        counters = client.counters()
    context.log.info(f"wistia_fact_events {days[0]}..{days[-1]}: {frame.height} events")
    yield dg.Output(
        frame,
        metadata={
            **counters,
            "events": frame.height,
            "events_without_geo": frame["lat"].null_count(),
            "visitors": frame["visitor_key"].n_unique(),
        },
    )
    day_rows = rows_by_day(frame, "received_at")
    yield from checks_per_day(context, lambda day: event_checks(day_rows(day), wistia_dim_media))


def event_checks(frame: "pl.DataFrame", media: "pl.DataFrame") -> Iterator[dg.AssetCheckResult]:
    yield unique_check("unique_event_key", frame, "event_key")
    yield within_check("percent_viewed_within_0_1", frame, "percent_viewed", 0, 1)
    yield references_check(
        "events_reference_media",
        frame,
        "media_id",
        media["hashed_id"],
        "Events of media absent from wistia_dim_media: re-materialize wistia_dim_media.",
    )


@dg.asset(
    group_name=GROUP,
    kinds={"polars", "parquet"},
    io_manager_key=IO_MANAGER,
    metadata=table("dim_visitors"),
    ins={"wistia_fact_events": dg.AssetIn(metadata={"allow_missing_partitions": True})},
    check_specs=[dg.AssetCheckSpec("unique_visitor_id", asset="wistia_dim_visitors", blocking=True)],
    description="One row per visitor key with its latest IP and country, rebuilt from wistia_fact_events.",
)
def wistia_dim_visitors(
    context: dg.AssetExecutionContext, wistia_fact_events
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    from video_analytics.wistia import transforms

    frame = transforms.dim_visitors(wistia_fact_events)
    context.log.info(f"wistia_dim_visitors: {frame.height} visitors from {wistia_fact_events.height} events")
    yield unique_check("unique_visitor_id", frame, "visitor_id")
    yield dg.Output(frame, metadata={"visitors": frame.height})


# -- schedule -------------------------------------------------------------------------------------

LATE_DAYS = 2  # events and by_date numbers of the last days still trickle in


@dg.schedule(
    cron_schedule="30 4 * * *",
    target=[
        wistia_dim_media,
        wistia_engagements,
        wistia_fact_engagement_graph,
        wistia_fact_events,
        wistia_dim_visitors,
    ],
    execution_timezone="UTC",
    name="wistia_nightly",
    description="Nightly: the catalogue, the graph, and the last two days of stats and events in one run.",
)
def wistia_nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return trailing_days_request("wistia", context.scheduled_execution_time, LATE_DAYS)


assets = [
    wistia_dim_media,
    wistia_engagements,
    wistia_fact_engagement_graph,
    wistia_fact_events,
    wistia_dim_visitors,
]
schedules = [wistia_nightly_schedule]
