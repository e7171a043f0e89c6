"""Pure polars: each platform's daily table in, one conformed shape out (no I/O, no Dagster).

Every platform names the same measures differently (`video_view`, `views`, `play_count`), counts
watch time in seconds or hours and writes rates as fractions or percentages. The functions here map
each source table onto :data:`PERFORMANCE_SCHEMA` (same names, seconds, fractions 0..1) so that
``sum(views)`` per platform and day equals the source table's own total. `docs/unified.md` lists,
per platform, how each column is derived and which stay null because the platform does not measure
them.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

PLATFORMS = ("brightcove", "dailymotion", "wistia", "agora")

#: The source tables each platform's rows come from (the lineage written into `source_table`).
SOURCE_TABLES = {
    "brightcove": "daily_video_metrics",
    "dailymotion": "dm_daily_video_stats",
    "wistia": "wistia_fact_engagements_byday",
    "agora": "agora_video_daily_stats",
}

QOE_COLUMNS = (
    "qoe_startup_time_median_ms",
    "qoe_rebuffer_percentage",
    "qoe_video_start_failure_percentage",
    "qoe_playback_failure_percentage",
)

PERFORMANCE_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "platform": pl.String(),
    "account": pl.String(),
    "video_id": pl.String(),
    "title": pl.String(),
    "duration_seconds": pl.Float64(),
    "views": pl.Int64(),
    "impressions": pl.Int64(),
    "unique_viewers": pl.Int64(),
    "watch_time_seconds": pl.Float64(),
    "avg_view_duration_seconds": pl.Float64(),
    "completion_rate": pl.Float64(),
    "play_rate": pl.Float64(),
    "engagement_score": pl.Float64(),
    "source_table": pl.String(),
    "source_partition": pl.String(),
}

IDENTITY_COLUMNS: dict[str, pl.DataType] = {
    "content_id": pl.String(),
    "identity_method": pl.String(),
    "identity_confidence": pl.Float64(),
}

QOE_SCHEMA: dict[str, pl.DataType] = {
    **{name: pl.Float64() for name in QOE_COLUMNS},
    "qoe_agora_video_id": pl.String(),
}

#: The conformed table's columns, in order.
CONFORMED_SCHEMA: dict[str, pl.DataType] = {**PERFORMANCE_SCHEMA, **IDENTITY_COLUMNS, **QOE_SCHEMA}


def _empty(schema: Mapping[str, pl.DataType] = PERFORMANCE_SCHEMA) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(schema))


def _has(frame: pl.DataFrame, *columns: str) -> bool:
    """A missing partition arrives as a frame without columns: such a source contributes no rows."""
    return frame.height > 0 and all(column in frame.columns for column in columns)


def _as_date(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.slice(0, 10).str.to_date("%Y-%m-%d")


def _finish(frame: pl.DataFrame, platform: str) -> pl.DataFrame:
    """Derived columns every platform computes the same way, then the schema's order and types."""
    derived = frame.with_columns(
        avg_view_duration_seconds=pl.when(pl.col("views") > 0).then(
            pl.col("watch_time_seconds") / pl.col("views")
        ),
        platform=pl.lit(platform),
        source_table=pl.lit(SOURCE_TABLES[platform]),
        source_partition=pl.col("date").dt.strftime("%Y-%m-%d"),
    )
    return derived.select(
        pl.col(name).cast(dtype) if name in derived.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in PERFORMANCE_SCHEMA.items()
    )


def brightcove_daily(metrics: pl.DataFrame) -> pl.DataFrame:
    """`daily_video_metrics` (one row per account, video and day) -> conformed rows.

    Brightcove rates come as fractions (`play_rate`) and percentages (`video_engagement_100`, the
    share of viewers still watching at the end): the latter is divided by 100.
    """
    if not _has(metrics, "video_id", "date", "video_view"):
        return _empty()
    return _finish(
        metrics.select(
            date=_as_date("date"),
            account=pl.col("channel"),
            video_id=pl.col("video_id").cast(pl.String),
            title=pl.col("name"),
            duration_seconds=pl.col("video_duration") / 1000.0,
            views=pl.col("video_view"),
            impressions=pl.col("video_impression"),
            watch_time_seconds=pl.col("video_seconds_viewed").fill_null(0.0),
            completion_rate=pl.col("video_engagement_100") / 100.0,
            play_rate=pl.col("play_rate"),
            engagement_score=pl.col("engagement_score"),
        ),
        "brightcove",
    )


def dailymotion_daily(stats: pl.DataFrame) -> pl.DataFrame:
    """`dm_daily_video_stats` (per day, video, page, device, player, playlist) summed to video and day.

    The view-through rate (a percentage) is re-weighted by views, as the source table does per row.
    """
    if not _has(stats, "video_id", "day", "views"):
        return _empty()
    weighted = (pl.col("view_through_rate").fill_null(0.0) * pl.col("views")).sum()
    grouped = stats.group_by(date=_as_date("day"), video_id=pl.col("video_id").cast(pl.String)).agg(
        title=pl.col("video_title").drop_nulls().first(),
        duration_seconds=pl.col("video_duration").drop_nulls().first().cast(pl.Float64),
        views=pl.col("views").sum(),
        watch_time_seconds=pl.col("time_watched_seconds").sum().cast(pl.Float64),
        completion_rate=pl.when(pl.col("views").sum() > 0).then(weighted / pl.col("views").sum() / 100.0),
    )
    return _finish(grouped, "dailymotion")


def wistia_daily(
    byday: pl.DataFrame, media: pl.DataFrame, events: pl.DataFrame | None = None
) -> pl.DataFrame:
    """`wistia_fact_engagements_byday` (loads, plays, hours per media and day) -> conformed rows.

    Titles and durations come from `wistia_dim_media`; unique viewers, where events were collected,
    are the distinct `visitor_key`s of `wistia_fact_events` for that media and day.
    """
    if not _has(byday, "media_id", "date", "play_count"):
        return _empty()
    rows = byday.select(
        date=_as_date("date"),
        video_id=pl.col("media_id").cast(pl.String),
        views=pl.col("play_count"),
        impressions=pl.col("load_count"),
        watch_time_seconds=pl.col("hours_watched").fill_null(0.0) * 3600.0,
        play_rate=pl.when(pl.col("load_count") > 0).then(pl.col("play_count") / pl.col("load_count")),
    )
    if _has(media, "hashed_id", "name"):
        catalogue = media.select(
            video_id=pl.col("hashed_id").cast(pl.String),
            title=pl.col("name"),
            duration_seconds=pl.col("duration").cast(pl.Float64),
        ).unique("video_id")
        rows = rows.join(catalogue, on="video_id", how="left")
    if events is not None and _has(events, "media_id", "received_at", "visitor_key"):
        visitors = events.group_by(
            date=_as_date("received_at"), video_id=pl.col("media_id").cast(pl.String)
        ).agg(unique_viewers=pl.col("visitor_key").n_unique())
        rows = rows.join(visitors, on=["date", "video_id"], how="left")
    return _finish(rows, "wistia")


def agora_daily(stats: pl.DataFrame) -> pl.DataFrame:
    """`agora_video_daily_stats` (PBS's own player, per programme and day) -> conformed rows."""
    if not _has(stats, "x_tpmid", "date", "views"):
        return _empty()
    return _finish(
        stats.select(
            date=_as_date("date"),
            account=pl.col("producer"),
            video_id=pl.col("x_tpmid").cast(pl.String),
            title=pl.col("title"),
            views=pl.col("views"),
            unique_viewers=pl.col("unique_clients"),
            watch_time_seconds=pl.col("watch_hours").fill_null(0.0) * 3600.0,
            completion_rate=pl.col("completion_percentage") / 100.0,
        ),
        "agora",
    )


def agora_qoe(stats: pl.DataFrame) -> pl.DataFrame:
    """Per Agora programme and day: the quality-of-experience measures the player logs give."""
    if not _has(stats, "x_tpmid", "date"):
        return pl.DataFrame(schema={"date": pl.Date(), "video_id": pl.String(), "views": pl.Int64()})
    return stats.select(
        date=_as_date("date"),
        video_id=pl.col("x_tpmid").cast(pl.String),
        views=pl.col("views").cast(pl.Int64),
        qoe_startup_time_median_ms=pl.col("startup_time_median_ms").cast(pl.Float64),
        qoe_rebuffer_percentage=pl.col("rebuffer_percentage").cast(pl.Float64),
        qoe_video_start_failure_percentage=pl.col("video_start_failure_percentage").cast(pl.Float64),
        qoe_playback_failure_percentage=pl.col("playback_failure_percentage").cast(pl.Float64),
    )


#: platform -> (date column, views column) of its source table, for reconciling totals.
SOURCE_VIEWS = {
    "brightcove": ("date", "video_view"),
    "dailymotion": ("day", "views"),
    "wistia": ("date", "play_count"),
    "agora": ("date", "views"),
}


def source_totals(raw: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Views per platform and day as each source table itself sums them (``raw``: platform -> the
    source table's rows), to check that conforming lost or doubled nothing."""
    frames = [
        frame.group_by(date=_as_date(SOURCE_VIEWS[p][0])).agg(
            platform=pl.lit(p), views=pl.col(SOURCE_VIEWS[p][1]).sum().cast(pl.Int64)
        )
        for p, frame in raw.items()
        if _has(frame, *SOURCE_VIEWS[p])
    ]
    empty = pl.DataFrame(schema={"date": pl.Date(), "platform": pl.String(), "views": pl.Int64()})
    return pl.concat([f.select("date", "platform", "views") for f in frames]) if frames else empty


def with_identity(performance: pl.DataFrame, identity: pl.DataFrame) -> pl.DataFrame:
    """Attach each row's content id; a video the identity table has not seen is its own content."""
    keys = identity.select("platform", "video_id", *IDENTITY_COLUMNS).unique(["platform", "video_id"])
    joined = performance.join(keys, on=["platform", "video_id"], how="left")
    return joined.with_columns(
        content_id=pl.coalesce("content_id", pl.col("platform") + pl.lit(":") + pl.col("video_id")),
        identity_method=pl.col("identity_method").fill_null("unmatched"),
        identity_confidence=pl.col("identity_confidence").fill_null(1.0),
    )


def with_qoe(performance: pl.DataFrame, qoe: pl.DataFrame) -> pl.DataFrame:
    """Beside each row, the Agora QoE of the same content that day (the most-viewed Agora programme
    of that content when several map to it); null where the player logs do not cover the content."""
    agora_ids = performance.filter(pl.col("platform") == "agora").select("date", "video_id", "content_id")
    if qoe.height == 0 or agora_ids.height == 0:
        return performance.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in QOE_SCHEMA.items())
    per_content = (
        qoe.join(agora_ids, on=["date", "video_id"], how="inner")
        .sort(["views", "video_id"], descending=[True, False])
        .unique(["date", "content_id"], keep="first", maintain_order=True)
        .select("date", "content_id", *QOE_COLUMNS, qoe_agora_video_id=pl.col("video_id"))
    )
    return performance.join(per_content, on=["date", "content_id"], how="left")


def conformed_daily(
    sources: Mapping[str, pl.DataFrame], identity: pl.DataFrame, qoe: pl.DataFrame
) -> pl.DataFrame:
    """Stack the platforms' conformed rows (``sources``: platform -> conformed frame), then attach
    identity and QoE. One row per platform, video and day, sorted for stable files."""
    frames = [sources[p] for p in PLATFORMS if p in sources and sources[p].height]
    stacked = pl.concat(frames, how="vertical") if frames else _empty()
    combined = with_qoe(with_identity(stacked, identity), qoe)
    return combined.select(pl.col(name).cast(dtype) for name, dtype in CONFORMED_SCHEMA.items()).sort(
        ["date", "platform", "video_id", "account"], nulls_last=True
    )
