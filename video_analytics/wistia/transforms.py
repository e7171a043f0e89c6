"""Pure polars transforms for Wistia: API payloads in, the seed's dim_/fact_ tables out. No I/O.

Column names and types follow the seed's data model. Where we deliberately differ from the original:

* `dim_visitors` has one row per visitor key (the original appended one row per event), keeping the
  most recent IP and country, plus when the visitor was first and last seen.
* A missing `lat`/`lon` stays null; the original wrote 0.0, a real place in the Gulf of Guinea.
* `fact_events.email` is the seed's int presence flag (1/0): the address itself is not stored.
* `fact_events` keeps the event's `ip` and `country` (the original moved them to the visitors file)
  so `dim_visitors` can be rebuilt from the lake without calling the API again.
* `fact_engagements` is a per-day snapshot: cumulative loads, plays and hours through that day from
  `by_date` (exact for any past day), `engagement` and `visitors` from the live stats endpoint only
  for the day the snapshot describes (the API has no history for them), null otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import polars as pl

THUMBNAIL = pl.Struct({"url": pl.String(), "width": pl.Int64(), "height": pl.Int64()})
PROJECT = pl.Struct({"id": pl.Int64(), "name": pl.String(), "hashed_id": pl.String()})
ASSET = pl.Struct(
    {
        "url": pl.String(),
        "width": pl.Int64(),
        "height": pl.Int64(),
        "fileSize": pl.Int64(),
        "contentType": pl.String(),
        "type": pl.String(),
    }
)
USER_AGENT = pl.Struct(
    {"browser": pl.String(), "browser_version": pl.String(), "platform": pl.String(), "mobile": pl.Boolean()}
)

DIM_MEDIA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "name": pl.String(),
    "type": pl.String(),
    "archived": pl.Boolean(),
    "created": pl.String(),
    "updated": pl.String(),
    "duration": pl.Float64(),
    "hashed_id": pl.String(),
    "description": pl.String(),
    "progress": pl.Float64(),
    "status": pl.String(),
    "thumbnail": THUMBNAIL,
    "section": pl.String(),
    "project": PROJECT,
    "assets": pl.List(ASSET),
    "tags": pl.List(pl.String()),
}
FACT_ENGAGEMENTS: dict[str, pl.DataType] = {
    "media_id": pl.String(),
    "date": pl.Date(),
    "load_count": pl.Int64(),
    "play_count": pl.Int64(),
    "play_rate": pl.Float64(),
    "hours_watched": pl.Float64(),
    "engagement": pl.Float64(),
    "visitors": pl.Int64(),
}
FACT_BYDAY: dict[str, pl.DataType] = {
    "media_id": pl.String(),
    "date": pl.String(),
    "load_count": pl.Int64(),
    "play_count": pl.Int64(),
    "hours_watched": pl.Float64(),
}
FACT_GRAPH: dict[str, pl.DataType] = {
    "media_id": pl.String(),
    "engagement": pl.Float64(),
    "engagement_data": pl.List(pl.Int64()),
    "rewatch_data": pl.List(pl.Int64()),
}
FACT_EVENTS: dict[str, pl.DataType] = {
    "received_at": pl.String(),
    "event_key": pl.String(),
    "region": pl.String(),
    "city": pl.String(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "org": pl.String(),
    "email": pl.Int32(),
    "percent_viewed": pl.Float64(),
    "embed_url": pl.String(),
    "conversion_type": pl.String(),
    "iframe_heatmap_url": pl.String(),
    "visitor_key": pl.String(),
    "user_agent_details": USER_AGENT,
    "media_id": pl.String(),
    "media_name": pl.String(),
    "media_url": pl.String(),
    "thumbnail": THUMBNAIL,
    "ip": pl.String(),
    "country": pl.String(),
}
DIM_VISITORS: dict[str, pl.DataType] = {
    "visitor_id": pl.String(),
    "ip_address": pl.String(),
    "country": pl.String(),
    "first_seen": pl.String(),
    "last_seen": pl.String(),
    "events": pl.Int64(),
}


def _pick(record: Mapping[str, Any], struct: pl.Struct) -> dict[str, Any] | None:
    if not isinstance(record, Mapping):
        return None
    return {field.name: record.get(field.name) for field in struct.fields}


def dim_media(medias: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """All media, archived ones included and flagged; sorted by id."""
    rows = [
        {
            **{name: m.get(name) for name in DIM_MEDIA},
            "archived": bool(m.get("archived", False)),
            "thumbnail": _pick(m.get("thumbnail"), THUMBNAIL),
            "project": _pick(m.get("project"), PROJECT),
            "assets": [_pick(a, ASSET) for a in m.get("assets") or []],
            "tags": [t["name"] if isinstance(t, Mapping) else str(t) for t in m.get("tags") or []],
        }
        for m in medias
    ]
    return pl.DataFrame(rows, schema=DIM_MEDIA, strict=False).sort("id")


def byday_rows(by_media: Mapping[str, Sequence[Mapping[str, Any]]]) -> pl.DataFrame:
    """`by_date` payloads keyed by hashed media id -> the seed's `fact_engagements_byday` columns.

    Built column by column: a backfill reads each media's whole history (hundreds of thousands of
    rows), and one dict per row costs several times as much."""
    rows = [r for rs in by_media.values() for r in rs]
    columns: dict[str, list[Any]] = {k: [r.get(k) for r in rows] for k in FACT_BYDAY if k != "media_id"}
    columns["media_id"] = [media for media, rs in by_media.items() for _ in rs]
    frame = pl.DataFrame(columns, schema=FACT_BYDAY, strict=False)
    return frame.with_columns(pl.col("date").str.slice(0, 10)).sort("date", "media_id")


def engagements_as_of(
    byday: pl.DataFrame, days: Sequence[date], snapshots: Mapping[str, Mapping[str, Any]], snapshot_day: date
) -> pl.DataFrame:
    """Per media and day D: cumulative loads, plays, hours through D (see the module docstring)."""
    snap = pl.DataFrame(
        [
            {"media_id": k, "engagement": v.get("engagement"), "visitors": v.get("visitors")}
            for k, v in snapshots.items()
        ],
        schema={"media_id": pl.String(), "engagement": pl.Float64(), "visitors": pl.Int64()},
        strict=False,
    )
    frames = []
    for day in days:
        through = (
            byday.filter(pl.col("date") <= pl.lit(day.isoformat()))
            .group_by("media_id")
            .agg(pl.col("load_count").sum(), pl.col("play_count").sum(), pl.col("hours_watched").sum())
        )
        frame = through.with_columns(pl.lit(day).alias("date"))
        frame = frame.join(snap, on="media_id", how="left") if day == snapshot_day else frame
        frames.append(frame)
    out = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame(schema=FACT_ENGAGEMENTS)
    rate = pl.when(pl.col("load_count") > 0).then(pl.col("play_count") / pl.col("load_count"))
    out = out.with_columns(play_rate=rate.otherwise(0.0), hours_watched=pl.col("hours_watched").round(4))
    return out.select(
        pl.col(k).cast(v) if k in out.columns else pl.lit(None, v).alias(k)
        for k, v in FACT_ENGAGEMENTS.items()
    ).sort("date", "media_id")


def engagement_graph(payloads: Mapping[str, Mapping[str, Any]]) -> pl.DataFrame:
    rows = [
        {
            "media_id": media,
            "engagement": p.get("engagement"),
            "engagement_data": p.get("engagement_data") or [],
            "rewatch_data": p.get("rewatch_data") or [],
        }
        for media, p in payloads.items()
    ]
    return pl.DataFrame(rows, schema=FACT_GRAPH, strict=False).sort("media_id")


def _coordinate(value: Any) -> float | None:
    """Blank, null or unparsable coordinates are unknown (null), never 0.0."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def fact_events(events: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Events in the seed's columns (plus ip and country), unique on `event_key`, oldest first.

    Built column by column (a backfill has tens of thousands of events a day)."""
    events = list(events)
    derived = {
        "lat": [_coordinate(e.get("lat")) for e in events],
        "lon": [_coordinate(e.get("lon")) for e in events],
        "email": [1 if e.get("email") else 0 for e in events],
        "thumbnail": [_pick(e.get("thumbnail"), THUMBNAIL) for e in events],
        "user_agent_details": [_pick(e.get("user_agent_details"), USER_AGENT) for e in events],
        "media_id": [None if e.get("media_id") is None else str(e["media_id"]) for e in events],
    }
    columns = {k: derived[k] if k in derived else [e.get(k) for e in events] for k in FACT_EVENTS}
    frame = pl.DataFrame(columns, schema=FACT_EVENTS, strict=False)
    return frame.unique("event_key", keep="last", maintain_order=True).sort("received_at", "event_key")


def dim_visitors(events: pl.DataFrame) -> pl.DataFrame:
    """One row per visitor key, with the IP and country of the visitor's most recent event."""
    if events.is_empty():
        return pl.DataFrame(schema=DIM_VISITORS)
    ordered = events.sort("received_at", "event_key")
    return (
        ordered.group_by("visitor_key")
        .agg(
            pl.col("ip").last().alias("ip_address"),
            pl.col("country").drop_nulls().last().alias("country"),
            pl.col("received_at").first().alias("first_seen"),
            pl.col("received_at").last().alias("last_seen"),
            pl.len().cast(pl.Int64).alias("events"),
        )
        .rename({"visitor_key": "visitor_id"})
        .select(list(DIM_VISITORS))
        .sort("visitor_id")
    )
