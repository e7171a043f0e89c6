"""Pure polars transforms for Brightcove: API rows in, tables of the runbook out. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from video_analytics.brightcove.client import COUNT_METRICS, RATE_METRICS

CUSTOM_FIELDS = (
    "video_content_type",
    "video_length",
    "video_category",
    "country",
    "language",
    "business_unit",
)
DEVICE_COLUMNS = ("views_desktop", "views_mobile", "views_tablet", "views_other")
CMS_SCHEMA: dict[str, pl.DataType] = {
    "channel": pl.String(),
    "account_id": pl.String(),
    "id": pl.String(),
    "name": pl.String(),
    "created_at": pl.Datetime("ms", "UTC"),
    "published_at": pl.Datetime("ms", "UTC"),
    "updated_at": pl.Datetime("ms", "UTC"),
    "original_filename": pl.String(),
    "created_by": pl.String(),
    "duration": pl.Int64(),
    "state": pl.String(),
    "reference_id": pl.String(),
    "tags": pl.String(),
    **{name: pl.String() for name in CUSTOM_FIELDS},
}

#: Columns of the runbook's daily CSV, in its order.
DAILY_COLUMNS = (
    "channel", "account_id", "video_id", "name", "date",
    "video_view", *DEVICE_COLUMNS, "video_impression", *RATE_METRICS,
    "created_at", "published_at", "original_filename", "created_by",
    "video_content_type", "video_length", "video_duration", "video_category", "country", "language",
    "business_unit", "tags", "reference_id", "report_generated_on",
)  # fmt: skip


@dataclass(frozen=True)
class CmsFilter:
    """The runbook's video universe: ACTIVE, published, created in the chosen years (each optional)."""

    states: tuple[str, ...] = ()
    require_published: bool = False
    created_years: tuple[int, ...] = ()

    def apply(self, videos: pl.DataFrame) -> pl.DataFrame:
        predicate = pl.lit(True)
        if self.states:
            predicate &= pl.col("state").str.to_uppercase().is_in([s.upper() for s in self.states])
        if self.require_published:
            predicate &= pl.col("published_at").is_not_null()
        if self.created_years:
            predicate &= pl.col("created_at").dt.year().is_in(list(self.created_years))
        return videos.filter(predicate)


#: The runbook CSV's selection, counted in cms_videos' metadata whatever the asset's own filter.
RUNBOOK_FILTER = CmsFilter(("ACTIVE",), True, (2024, 2025))


def _parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _created_by(value: Any) -> str | None:
    """The original flattened `created_by`; we keep the most specific identity it carries."""
    if not isinstance(value, dict):
        return None
    return value.get("email") or value.get("id") or value.get("type")


def cms_videos_frame(videos: Iterable[dict[str, Any]], channel: str, account_id: str) -> pl.DataFrame:
    """One row per video with the runbook's CMS fields; durations stay in milliseconds."""
    rows = []
    for video in videos:
        custom = video.get("custom_fields") or {}
        rows.append(
            {
                "channel": channel,
                "account_id": account_id,
                "id": str(video["id"]),
                "name": video.get("name"),
                "created_at": _parse_ts(video.get("created_at")),
                "published_at": _parse_ts(video.get("published_at")),
                "updated_at": _parse_ts(video.get("updated_at")),
                "original_filename": video.get("original_filename"),
                "created_by": _created_by(video.get("created_by")),
                "duration": video.get("duration"),
                "state": video.get("state"),
                "reference_id": video.get("reference_id"),
                "tags": ",".join(video.get("tags") or []),
                **{name: custom.get(name) for name in CUSTOM_FIELDS},
            }
        )
    return pl.DataFrame(rows, schema=CMS_SCHEMA).unique("id", keep="last", maintain_order=True)


def views_frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Analytics `video,date` rows with views, typed; keys de-duplicated."""
    frame = pl.DataFrame(
        [
            {"video_id": str(r["video"]), "date": r["date"], "video_view": r.get("video_view") or 0}
            for r in rows
        ],
        schema={"video_id": pl.String(), "date": pl.String(), "video_view": pl.Int64()},
    )
    return frame.with_columns(pl.col("date").str.to_date()).unique(["video_id", "date"], keep="last")


def recently_viewed(views: pl.DataFrame, days: Sequence[date], lookback_days: int) -> pl.DataFrame:
    """Per day D, the videos with views in [D - lookback + 1, D] and the last day they had any."""
    frames = []
    for day in days:
        window = views.filter(pl.col("date").is_between(day - timedelta(days=lookback_days - 1), day))
        frames.append(
            window.filter(pl.col("video_view") > 0)
            .group_by("video_id")
            .agg(
                pl.col("date").max().alias("last_viewed_date"),
                pl.col("video_view").sum().alias("views_in_window"),
            )
            .with_columns(pl.lit(day).alias("date"))
        )
    schema = {
        "video_id": pl.String(),
        "last_viewed_date": pl.Date(),
        "views_in_window": pl.Int64(),
        "date": pl.Date(),
    }
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)


def with_cms(
    frame: pl.DataFrame, cms: pl.DataFrame, columns: Sequence[str], how: str = "inner"
) -> pl.DataFrame:
    """Join CMS fields on video id. `inner` keeps the video universe only, as the original's cache
    step did; `left` keeps every analytics row (fields null where the video is not in `cms_videos`)."""
    return frame.join(cms.select(["id", *columns]).rename({"id": "video_id"}), on="video_id", how=how)


def device_views_frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Views per video and day pivoted to the runbook's four device columns (anything else is other)."""
    frame = pl.DataFrame(
        [
            {
                "video_id": str(r["video"]),
                "date": r["date"],
                "device": r.get("device_type"),
                "views": r.get("video_view"),
            }
            for r in rows
        ],
        schema={"video_id": pl.String(), "date": pl.String(), "device": pl.String(), "views": pl.Int64()},
    ).unique(["video_id", "date", "device"], keep="last")
    device = pl.col("device").str.to_lowercase()
    bucket = (
        pl.when(device.is_in(["desktop", "mobile", "tablet"]))
        .then("views_" + device)
        .otherwise(pl.lit("views_other"))
    )
    summed = (
        frame.with_columns(bucket.alias("bucket"))
        .group_by("video_id", "date", "bucket")
        .agg(pl.col("views").sum())
    )
    wide = summed.pivot(on="bucket", index=["video_id", "date"], values="views")
    for column in DEVICE_COLUMNS:
        if column not in wide.columns:
            wide = wide.with_columns(pl.lit(0, pl.Int64).alias(column))
    return wide.select("video_id", pl.col("date").str.to_date(), *DEVICE_COLUMNS)


def metrics_frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """The 11 daily metrics per video and day; tied-row duplicates from the API collapse to one."""
    schema = {"video_id": pl.String(), "date": pl.String()}
    schema |= {m: pl.Int64() for m in COUNT_METRICS} | {m: pl.Float64() for m in RATE_METRICS}
    frame = pl.DataFrame(
        [
            {"video_id": str(r["video"]), "date": r["date"], **{m: r.get(m) for m in schema if m in r}}
            for r in rows
        ],
        schema=schema,
    )
    return frame.with_columns(pl.col("date").str.to_date()).unique(["video_id", "date"], keep="last")


def daily_video_metrics(
    metrics: pl.DataFrame,
    devices: pl.DataFrame,
    cms: pl.DataFrame,
    generated_on: datetime,
    *,
    channel: str,
    account_id: str,
    only_cms_videos: bool = False,
) -> pl.DataFrame:
    """The runbook's daily CSV rows: metrics + device views + CMS fields, one row per video and day.

    Counts missing from the API are 0 (as in the original); rates the API reports as null
    ("not processed yet") stay null instead of pretending to be 0.
    """
    joined = metrics.join(devices, on=["video_id", "date"], how="left").with_columns(
        [pl.col(c).fill_null(0) for c in (*COUNT_METRICS, *DEVICE_COLUMNS)]
    )
    cms_columns = [
        "name", "created_at", "published_at", "original_filename", "created_by",
        "video_content_type", "video_length", "duration", "video_category", "country", "language",
        "business_unit", "tags", "reference_id",
    ]  # fmt: skip
    return (
        with_cms(joined, cms, cms_columns, how="inner" if only_cms_videos else "left")
        .with_columns(pl.lit(channel).alias("channel"), pl.lit(account_id).alias("account_id"))
        .rename({"duration": "video_duration"})
        .with_columns(pl.lit(generated_on, pl.Datetime("us", "UTC")).alias("report_generated_on"))
        .select(DAILY_COLUMNS)
        .sort("account_id", "date", "video_id")
    )
