"""Stage 2 of Agora: parsed lines -> each stream's events and attributes, the inputs of the walk.

In: `parsing.parse_lines` rows. Out: two frames per block of lines, both keyed by the stream key
(`stream_key`: the tracking id, or tracking id + video id when the id is short):

* events (`events_frame`): the compact typed columns the per-stream walk reads (`key`, `seq`, `ts`,
  `event_type`, `bad`, `location`, `buffering_ms`, `after_seek`, `auto`), one row per valid or
  bad-data line. `local_streams` replaces the text key by `stream`, the key's row in the block's keys;
  `number_streams` renumbers it into the rows of the day's attributes.
* attribute rows (`attributes_frame`, `ATTRIBUTE_ROW_COLUMNS`): what describes a stream (title,
  user agent, ... and the video id), reduced per stream so partial results reduce again;
  `stream_attributes` turns a whole day's into one row per stream.

Why a stage of its own: a day's events are most of its memory, so the text that describes a stream
is kept once per stream, not once per event; and blocks (polars- or natively-scanned, or spilled to
buckets) are keyed on their own and merged later. The native scanner (`linescan`) produces the same
two frames for the lines it reads, which is why `bad` and `_tpmid_min`/`_tpmid_max` keep their names.
"""

from __future__ import annotations

from typing import TypeVar

import polars as pl

from video_analytics.agora.parsing import BAD_DATA_REASON, DESCRIBING, read_descriptive_fields

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

#: Key length below which the tracking id is disambiguated by the video id (the original's rule).
SHORT_TRACKING_ID = 30
#: What partial attribute results hold (`attribute_rows`, `reduce_attribute_rows`); `_tpmid_min` and
#: `_tpmid_max`: the least and greatest video id of the stream's good events.
ATTRIBUTE_ROW_COLUMNS = ("seq", "key", "tracking_id", *DESCRIBING, "media_id", "_tpmid_min", "_tpmid_max")
#: The original's descriptive output columns, and the QoE ones (docs/sources/agora.md) taken the same way.
DESCRIPTIVE = ("source", "component", "client_id", "user_agent", "title", "session_id", "video_length")
QOE_EXTRA = ("program", "producer", "device_id")


def stream_key() -> pl.Expr:
    """The original's key: the tracking id, plus `-<x_tpmid>` when shorter than 30 characters."""
    tracking = pl.col("tracking_id")
    short = tracking.str.len_chars() < SHORT_TRACKING_ID
    return pl.when(short).then(pl.concat_str(tracking, pl.lit("-"), pl.col("tpmid"))).otherwise(tracking)


def keyed_frame(parsed: FrameT) -> FrameT:
    """Valid lines plus bad-data lines (`bad`), keyed, in delivery (file, line) order. `events_frame`
    and `attributes_frame` accept this instead of `parse_lines` output (to key a block once). Lazy in,
    lazy out; eager in, eager out (on a parsed block, eagerly is measured 3x faster: the lazy sort of
    the wide frame costs more)."""
    if "key" in parsed.collect_schema():
        return parsed
    keep = pl.col("reject_reason").is_null() | (pl.col("reject_reason") == BAD_DATA_REASON)
    return (
        parsed.filter(keep)
        .sort("seq")
        .with_columns(
            stream_key().alias("key"),
            (pl.col("reject_reason") == BAD_DATA_REASON).fill_null(False).alias("bad"),
        )
    )


def events_frame(parsed: pl.LazyFrame) -> pl.LazyFrame:
    """The compact typed events the per-stream walk needs (descriptive text lives in `attributes_frame`,
    so a day's events stay small). Bad-data events are kept, flagged, and ignored by the walk."""
    return keyed_frame(parsed).select(
        "key",
        "seq",
        "ts",
        pl.col("event_type").cast(pl.Categorical),
        "bad",
        pl.col("location_raw").cast(pl.Float64, strict=False).alias("location"),
        pl.col("buffering_raw").str.strip_chars().cast(pl.Int64, strict=False).alias("buffering_ms"),
        (pl.col("after_seek_raw").str.to_lowercase() == "true").fill_null(False).alias("after_seek"),
        (pl.col("auto_raw").str.to_lowercase() == "true").fill_null(False).alias("auto"),
    )


# --- attributes ------------------------------------------------------------------------------------


def _rows_deciding_attributes(keyed: pl.LazyFrame) -> pl.LazyFrame:
    """The rows whose descriptive fields decide the first non-empty values: each stream's first row,
    plus every row of the streams whose first row lacks one of them (the answer is unchanged)."""
    if "_descriptive_read" not in keyed.collect_schema():
        return keyed
    first = pl.col("seq") == pl.col("seq").min().over("key")
    keyed = keyed.with_columns(first.alias("_first_of_stream"))
    firsts = read_descriptive_fields(keyed.filter("_first_of_stream"))
    complete = firsts.filter(pl.all_horizontal(pl.col(DESCRIBING).is_not_null())).select("key")
    others = read_descriptive_fields(
        keyed.filter(~pl.col("_first_of_stream")).join(complete, on="key", how="anti")
    )
    return pl.concat([firsts, others]).sort("seq")


def attribute_rows(keyed: FrameT) -> FrameT:
    """`keyed_frame` rows as attribute rows (`ATTRIBUTE_ROW_COLUMNS`): the video id counts only on good
    events; descriptive fields as parsed (null where not read)."""
    good_tpmid = pl.when(~pl.col("bad")).then(pl.col("tpmid"))
    return keyed.select(
        "seq",
        "key",
        "tracking_id",
        *DESCRIBING,
        good_tpmid.alias("media_id"),
        good_tpmid.alias("_tpmid_min"),
        good_tpmid.alias("_tpmid_max"),
    )


def reduce_attribute_rows(rows: FrameT) -> FrameT:
    """Attribute rows -> one per stream, of the same shape, so partial results (a block's, the slow
    lines') can be reduced again: first values in delivery order (`seq`: the first row's), least and
    greatest video id. The original takes each descriptive field's first non-empty value; bad-data
    events count (it captured them before its check)."""
    return (
        rows.sort("seq")
        .group_by("key", maintain_order=True)
        .agg(
            pl.col("seq").first(),
            pl.col("tracking_id").first(),
            *[pl.col(c).first(ignore_nulls=True) for c in (*DESCRIBING, "media_id")],
            pl.col("_tpmid_min").min(),
            pl.col("_tpmid_max").max(),
        )
        .select(ATTRIBUTE_ROW_COLUMNS)
    )


def attributes_frame(parsed: pl.LazyFrame) -> pl.LazyFrame:
    """The reduced attribute rows of parsed lines (`parse_lines`, or `keyed_frame` of it)."""
    keyed = keyed_frame(parsed)
    ids = attribute_rows(keyed).drop(DESCRIBING)
    described = _rows_deciding_attributes(keyed).select("seq", *DESCRIBING)
    # the descriptive fields of the rows that decide them; ids and video ids from every row
    return reduce_attribute_rows(ids.join(described, on="seq", how="left"))


def stream_attributes(rows: pl.DataFrame) -> pl.DataFrame:
    """All attribute rows of whole streams -> `stream_walk.session_stats`'s attributes, one row per
    stream, in the order of their first line (deterministic, and no sort of the keys)."""
    return reduce_attribute_rows(rows).select(
        "key",
        "tracking_id",
        *[pl.col(c).str.to_lowercase() if c == "session_id" else c for c in (*DESCRIPTIVE, *QOE_EXTRA)],
        "media_id",
        (pl.col("_tpmid_min") != pl.col("_tpmid_max")).fill_null(False).alias("media_id_mismatch"),
    )


# --- stream numbers --------------------------------------------------------------------------------


def local_streams(events: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """`events_frame` rows with `stream`, the row of their key in the returned keys, in place of the key
    (as the native scanner gives them)."""
    keys = events["key"].unique(maintain_order=True)
    return events.select(_rows_in(events["key"], keys).alias("stream"), pl.exclude("key")), keys


def number_streams(events: pl.DataFrame, keys: pl.Series, attributes: pl.DataFrame) -> pl.DataFrame:
    """Events whose `stream` is a row of `keys` (keys may repeat: blocks numbered their own streams) ->
    `stream` as the row of `attributes` (`stream_attributes` of the same streams)."""
    rows = _rows_in(keys, attributes["key"])
    return events.with_columns(rows.gather(events["stream"]).alias("stream"))


def _rows_in(keys: pl.Series, reference: pl.Series) -> pl.Series:
    """Each key's row in `reference` (distinct keys). A join, not a Categorical cast: Categorical keys
    would stay in polars' process-wide string pool (measured: 131 MB per million streams, never freed)."""
    table = reference.to_frame("key").with_row_index("_reference_row")
    rows = keys.to_frame("key").join(table, on="key", how="left", nulls_equal=True, maintain_order="left")
    if rows["_reference_row"].null_count():
        raise ValueError(
            f"{rows['_reference_row'].null_count()} stream key(s) missing from the reference keys"
        )
    return rows["_reference_row"]
