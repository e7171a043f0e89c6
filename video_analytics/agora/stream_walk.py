"""Stage 3 of Agora: the per-stream walk, each stream's events -> one row of session stats.

In: `stream_events` frames of whole streams: events (`stream` a row of the attributes) and the
streams' attributes (`stream_events.stream_attributes`). Out (`session_stats`): one row per stream
with the original job's output columns (same names and meaning, defects fixed) plus the QoE metrics
(startup time, failures, rebuffering, seek latency, watch and playing time, completion), the rows of
`agora_session_stats`.

Why a stage of its own: this is the original's logic, the walk over each stream's events in time
order (intervals between starts and ends, buffering start/end pairs, first and last events). It runs
on the events of one bucket of streams at a time, so it never needs the whole day. It is vectorised:
the events are sorted once by stream and time (`_walk_order_rows`) and every aggregate is a group-by
over that order, with no Python code per stream.

Where we deliberately differ from the original (pbs/agora-proc, see docs/sources/agora.md):

* durations are fractional seconds, and events at the same second are ordered by time, then by file
  and line number (timestamps keep their milliseconds);
* `position_earliest_play` compares playhead positions as numbers, not strings;
* the seek filter on `MediaBufferingEnd` works (the original's test was inverted and case-sensitive):
  buffering flagged `x_after_seek=true` is seek latency, not rebuffering;
* `position_latest_play` (lost to a Python slip in the original) is reported.
"""

from __future__ import annotations

import polars as pl

from video_analytics.agora.parsing import EVENT_COLUMNS
from video_analytics.agora.stream_events import (
    attributes_frame,
    events_frame,
    local_streams,
    number_streams,
    stream_attributes,
)

STARTED = "MediaStarted"
ENDED = "MediaEnded"
COMPLETED = "MediaCompleted"
FAILED = "MediaFailed"
INITIAL_START = "MediaInitialBufferStart"
INITIAL_END = "MediaInitialBufferEnd"
BUFFER_START = "MediaBufferingStart"
BUFFER_END = "MediaBufferingEnd"
SCRUB = "MediaScrub"
QUALITY_AUTO = "MediaQualityChangeAuto"
QUALITY_USER = "MediaQualityChange"

#: Playhead share of the duration from which a view counts as completed without MediaCompleted.
COMPLETION_THRESHOLD = 95.0

#: The original's GeoIP columns (filled by `geoip.with_geography` when a database is set): coordinates
#: are numbers, codes and names text.
GEO_SCHEMA: dict[str, pl.DataType] = {
    "isp_name": pl.String(),
    "geo_city": pl.String(),
    "geo_longitude": pl.Float64(),
    "geo_latitude": pl.Float64(),
    "geo_postal_code": pl.String(),
    "geo_metro_code": pl.String(),
    "geo_country_code": pl.String(),
    "geo_country_name": pl.String(),
}
GEO_COLUMNS = tuple(GEO_SCHEMA)

#: Event types the walk looks at, coded 2.. in the low 4 bits of `_event_code` (0: bad event, 1: other
#: good event); two more bits carry x_after_seek and x_auto.
_WALKED_TYPES = (
    STARTED,
    ENDED,
    COMPLETED,
    FAILED,
    INITIAL_START,
    INITIAL_END,
    BUFFER_START,
    BUFFER_END,
    SCRUB,
    QUALITY_AUTO,
    QUALITY_USER,
)
_TYPE_CODES = 16  # `_event_code % 16`: the event type
_AFTER_SEEK_BIT = 16
_AUTO_BIT = 32


def _milliseconds(delta: pl.Expr) -> pl.Expr:
    """Durations are summed as integer milliseconds (exact, order-independent), then shown in s."""
    return delta.dt.total_milliseconds()


def _event_code() -> pl.Expr:
    """Event type, bad, after_seek and auto in one byte: the sort moves one small column, not four."""
    code = pl.lit(1, pl.UInt8)
    for number, name in enumerate(_WALKED_TYPES, start=2):
        code = pl.when(pl.col("event_type") == name).then(pl.lit(number, pl.UInt8)).otherwise(code)
    code = pl.when(pl.col("bad").not_()).then(code).otherwise(pl.lit(0, pl.UInt8))
    flags = pl.col("after_seek").cast(pl.UInt8) * _AFTER_SEEK_BIT + pl.col("auto").cast(pl.UInt8) * _AUTO_BIT
    return (code + flags).alias("_event_code")


def _is_event(*types: str) -> pl.Expr:
    """A good event of one of `types`."""
    return (pl.col("_event_code") % _TYPE_CODES).is_in([2 + _WALKED_TYPES.index(name) for name in types])


def _has_bit(bit: int) -> pl.Expr:
    return (pl.col("_event_code") & bit) > 0


def _packed_counts(
    counts: dict[str, pl.Expr], count_bits: int
) -> tuple[list[pl.Expr], list[pl.Expr], list[pl.Expr]]:
    """Counts of flags as `count_bits`-wide fields of a few u64: a group-by pays per aggregated column,
    and one sum counts several flags. Returns the row columns, their sums, and the counts from the
    sums."""
    names = list(counts)
    per_column = 64 // count_bits
    rows, sums, fields = [], [], []
    for start in range(0, len(names), per_column):
        packed = f"_counts{start}{names[start]}"
        chunk = names[start : start + per_column]
        fields_sum = sum(counts[n].cast(pl.UInt64) * (1 << (count_bits * i)) for i, n in enumerate(chunk))
        rows.append(fields_sum.alias(packed))
        sums.append(pl.col(packed).sum())
        fields += [
            (pl.col(packed) // (1 << (count_bits * i)) % (1 << count_bits)).cast(pl.UInt32).alias(n)
            for i, n in enumerate(chunk)
        ]
    return rows, sums, fields


# --- the events in walk order: by stream, time, then delivery -------------------------------------


def _events_in_walk_order(events: pl.DataFrame) -> pl.DataFrame:
    """The events as `_stream`, `ts`, `_event_code`, `location`, `_event_row` (row in `events`),
    sorted by stream, time, then delivery: one gather of the rows in `_walk_order_rows` order."""
    positions = _walk_order_rows(events)
    walk = events.select(pl.col("stream").alias("_stream"), "ts", _event_code(), "location")[positions]
    return walk.with_columns(positions.alias("_event_row"))


def _walk_order_rows(events: pl.DataFrame) -> pl.Series:
    """Rows of `events` by stream, time, then delivery (`seq`). Stream and time usually fit one u64, and
    often the delivery rank too, whose sort is much cheaper than a multi-column one."""
    streams, ts = events["stream"], events["ts"].to_physical()
    low, high, n = ts.min(), ts.max(), events.height
    ts_bits = int(high - low).bit_length() if ts.null_count() == 0 else 64
    stream_time_bits, rank_bits = int(streams.max()).bit_length() + ts_bits, n.bit_length()
    in_order = events["seq"].is_sorted()  # else the blocks came out of order (spilled buckets)

    def stream_time() -> pl.Expr:
        return pl.col("stream").cast(pl.UInt64) * (1 << ts_bits) + (pl.col("ts").to_physical() - low).cast(
            pl.UInt64
        )

    if stream_time_bits + rank_bits <= 64:
        rank = pl.int_range(pl.len(), dtype=pl.UInt64)
        if not in_order:
            rank = pl.col("seq").rank("ordinal").cast(pl.UInt64) - 1
        packed = events.select(stream_time() * (1 << rank_bits) + rank).to_series().sort()
        # the rank from the low bits by a mask: no u64 division (measured 10 ms per million rows)
        ranks = (packed & ((1 << rank_bits) - 1)).cast(pl.UInt32)
        return ranks if in_order else events["seq"].arg_sort().gather(ranks).cast(pl.UInt32)
    if stream_time_bits <= 64 and in_order:  # a stable sort keeps the delivery order of equal times
        keyed = events.select(stream_time().alias("_stream_time")).with_row_index("_event_row")
        return keyed.sort("_stream_time", maintain_order=True)["_event_row"]
    columns = events.select("stream", "ts", "seq").with_row_index("_event_row")
    return columns.sort("stream", "ts", "seq")["_event_row"]


# --- the aggregates of the walk: each a group-by per stream over the walk order --------------------

_FinishSteps = list[list[pl.Expr]]  # with_columns steps that finish a per-stream frame


def _whole_stream_aggregates(walk: pl.LazyFrame, count_bits: int) -> tuple[pl.LazyFrame, _FinishSteps]:
    """Aggregates over all of a stream's events: first and last good event (`_walk_row`: position in
    `walk`, time order), furthest playhead, counts of buffering starts, quality changes and seeks."""
    good = pl.col("_event_code") % _TYPE_CODES > 0
    counts = {
        "buffer_start_events": _is_event(BUFFER_START),
        "auto_bitrate_events": _is_event(QUALITY_AUTO),
        "user_bitrate_events": _is_event(QUALITY_USER),
        "seek_count": _is_event(SCRUB),
    }
    rows, sums, fields = _packed_counts(counts, count_bits)
    frame = (
        walk.with_columns(
            pl.when(good).then(pl.int_range(pl.len(), dtype=pl.UInt32)).alias("_walk_row"),
            pl.when(good).then(pl.col("location")).alias("_max_location"),
            *rows,
        )
        .group_by("_stream")
        .agg(
            pl.col("_walk_row").min().alias("_first_good_row"),
            pl.col("_walk_row").max().alias("_last_good_row"),
            pl.col("_max_location").max(),
            *sums,
        )
    )
    return frame, [fields]


def _play_and_watch_intervals(
    walk: pl.LazyFrame, count_bits: int, buffering: pl.Series
) -> tuple[pl.LazyFrame, _FinishSteps]:
    """Playing and watch time by the original's walk over a stream's starts and ends: the first start
    after an end opens an interval, the next end closes it; ends with no open interval are ignored. A
    trailing open interval is dropped (playing) or closed at the stream's last event (watch). Also the
    other aggregates of these events and of MediaInitialBufferEnd (fewer rows than the whole stream)."""
    ts = pl.col("ts")
    # walk -> its closing events: playing time ends at Ended/Completed, watch time also at Failed
    walks = {"_play": _is_event(ENDED, COMPLETED), "_watch": _is_event(ENDED, COMPLETED, FAILED)}

    def open_after(w: str) -> pl.Expr:
        """Is an interval open after this row: is the last start or end so far a start (a stream begins
        closed)."""
        closing = pl.col(f"{w}_is_end") | pl.col("_stream_first")
        return pl.when("_is_start").then(1).when(closing).then(0).forward_fill()

    marks = (
        walk.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_walk_row"))
        .filter(_is_event(STARTED, INITIAL_START, INITIAL_END, ENDED, COMPLETED, FAILED))
        .with_columns(
            _is_event(STARTED, INITIAL_START).alias("_is_start"),
            (pl.col("_stream") != pl.col("_stream").shift(1)).fill_null(True).alias("_stream_first"),
            (pl.col("_stream") != pl.col("_stream").shift(-1)).fill_null(True).alias("_stream_last"),
            *[end.alias(f"{w}_is_end") for w, end in walks.items()],
        )
        .with_columns(open_after(w).alias(f"{w}_open_after") for w in walks)
        .with_columns(
            pl.when("_stream_first")
            .then(0)
            .otherwise(pl.col(f"{w}_open_after").shift(1))
            .alias(f"{w}_open_before")
            for w in walks
        )
        # a start with no interval open opens one: when the open interval opened
        .with_columns(
            pl.when(pl.col("_is_start") & (pl.col(f"{w}_open_before") == 0))
            .then(ts)
            .forward_fill()
            .alias(f"{w}_opened_at")
            for w in walks
        )
    )
    counts = {
        "_any_end": _is_event(ENDED, COMPLETED),
        "_any_start": _is_event(STARTED),
        "finished_playback": _is_event(COMPLETED),
    }
    rows, sums, fields = _packed_counts(counts, count_bits)
    initial_end = _is_event(INITIAL_END)

    def where(mask: pl.Expr, column: str) -> pl.Expr:
        return pl.when(mask).then(pl.col(column))

    closed = [
        pl.when(pl.col(f"{w}_is_end") & (pl.col(f"{w}_open_before") == 1))
        .then(_milliseconds(ts - pl.col(f"{w}_opened_at")))
        .alias(f"{w}_interval_ms")
        for w in walks
    ]
    frame = (
        marks.with_columns(
            *closed,
            pl.when(pl.col("_stream_last") & (pl.col("_watch_open_after") == 1))
            .then(pl.col("_watch_opened_at"))
            .alias("_watch_open_since"),
            where(_is_event(STARTED), "location").alias("position_earliest_play"),
            where(_is_event(ENDED, COMPLETED), "location").alias("position_latest_play"),
            pl.lit(buffering)
            .gather(where(initial_end, "_event_row"))
            .fill_null(0)
            .alias("initial_buffering_length"),
            where(_is_event(INITIAL_END, STARTED), "_walk_row").alias("_first_frame_row"),
            where(_is_event(INITIAL_START), "_walk_row").alias("_first_request_row"),
            where(initial_end, "_walk_row").alias("_initial_end_row"),
            where(_is_event(FAILED), "_walk_row").alias("_failure_row"),
            *rows,
        )
        .group_by("_stream")
        .agg(
            pl.col("_play_interval_ms", "_watch_interval_ms", "initial_buffering_length").sum(),
            pl.col("_watch_open_since", "position_latest_play").max(),
            pl.col(
                "position_earliest_play", "_first_frame_row", "_first_request_row", "_initial_end_row"
            ).min(),
            pl.col("_failure_row").min().alias("_first_failure_row"),
            pl.col("_failure_row").max().alias("_last_failure_row"),
            *sums,
        )
    )
    return frame, [fields, [(pl.col(c) > 0).alias(c) for c in counts]]


def _buffering_pairs(
    walk: pl.LazyFrame, count_bits: int, after_seek: bool
) -> tuple[pl.LazyFrame, _FinishSteps]:
    """Buffering Start/End pairs of one kind (rebuffer or seek stall), with the original's validity rules:
    a second Start before an End, an End without a Start, a playhead move between them or an End before
    its Start make the stream's buffering_length unknown (None)."""
    prefix = "_seek_stall_" if after_seek else "_rebuffer_"
    ts, previous_ts = pl.col("ts"), pl.col("ts").shift(1)
    start = _is_event(BUFFER_START)
    end = ~start
    after_start = ((pl.col("_stream").shift(1) == pl.col("_stream")) & start.shift(1)).fill_null(False)
    paired = end & after_start
    moved = ~pl.col("location").eq_missing(pl.col("location").shift(1)) | (ts < previous_ts).fill_null(False)
    duration = pl.when(paired & (ts >= previous_ts)).then(_milliseconds(ts - previous_ts))
    counts = {
        f"{prefix}starts": start,
        f"{prefix}ends": end,
        f"{prefix}pairs": duration.is_not_null(),
        f"{prefix}broken": (end & (~paired | moved)) | (start & after_start),
        f"{prefix}auto": end & _has_bit(_AUTO_BIT),
    }
    rows, sums, fields = _packed_counts(counts, count_bits)
    total, pairs = pl.col(f"{prefix}duration"), pl.col(f"{prefix}pairs")
    frame = (
        walk.filter(_is_event(BUFFER_START, BUFFER_END) & (_has_bit(_AFTER_SEEK_BIT) == after_seek))
        .with_columns(duration.alias(f"{prefix}duration"), *rows)
        .group_by("_stream")
        .agg(total.sum(), *sums)
    )
    return frame, [
        fields,
        [
            (total / 1000.0).alias(f"{prefix}duration"),
            pl.when(pairs > 0).then(total / pairs / 1000.0).alias(f"{prefix}mean"),
            (pl.col(f"{prefix}broken") > 0).alias(f"{prefix}broken"),
            (pl.col(f"{prefix}auto") > 0).alias(f"{prefix}auto"),
        ],
    ]


def _one_row_per_stream(frame: pl.DataFrame, size: int) -> pl.DataFrame:
    """Per-stream rows as `size` rows in `_stream` order (nulls for streams that are not there)."""
    rows = pl.int_range(frame.height, dtype=pl.UInt32, eager=True)
    at = pl.Series([None], dtype=pl.UInt32).extend_constant(None, size - 1).scatter(frame["_stream"], rows)
    return frame.drop("_stream")[at]


# --- one row per stream ----------------------------------------------------------------------------


def session_stats(events: pl.DataFrame, attributes: pl.DataFrame) -> pl.DataFrame:
    """One row per stream with the original's output columns (same names and meaning, defects fixed)
    and the QoE metrics (defined in docs/sources/agora.md), in the order of `attributes` (their
    `stream_attributes`). `events`: `events_frame` rows of whole streams, any order, `stream` their
    row of `attributes` (`number_streams`)."""
    if events.height == 0:
        return empty_sessions()
    # every per-stream result comes out in stream order, lined up with the attributes
    walk = _events_in_walk_order(events)
    count_bits = events.height.bit_length()
    lazy = walk.lazy()
    parts = [
        _whole_stream_aggregates(lazy, count_bits),
        _play_and_watch_intervals(lazy, count_bits, events["buffering_ms"]),
        _buffering_pairs(lazy, count_bits, after_seek=False),
        _buffering_pairs(lazy, count_bits, after_seek=True),
    ]
    frames = pl.collect_all([frame for frame, _ in parts])
    per_stream = []
    for (_, steps), frame in zip(parts, frames, strict=True):
        for step in steps:
            frame = frame.with_columns(step)
        per_stream.append(_one_row_per_stream(frame, attributes.height))
    stats = pl.concat([*per_stream, attributes], how="horizontal")
    if frames[0].height < attributes.height:  # attributes of streams without events
        present = pl.Series([False]).extend_constant(False, attributes.height - 1)
        stats = stats.filter(present.scatter(frames[0]["_stream"], True))
    ts, event_row = pl.lit(walk["ts"]), pl.lit(walk["_event_row"])

    def time_at(walk_row: str) -> pl.Expr:
        return ts.gather(pl.col(walk_row))

    def event_column_at(column: str, walk_row: str) -> pl.Expr:
        return pl.lit(events[column]).gather(event_row.gather(pl.col(walk_row)))

    # lazily: the gathers and the output columns are computed in parallel
    moments = ("_first_frame", "_first_request", "_initial_end", "_first_failure", "_last_failure")
    watch_ms = pl.col("_watch_interval_ms") + _milliseconds(
        pl.col("latest_time") - pl.col("_watch_open_since")
    ).fill_null(0)
    stats = (
        stats.lazy()
        .with_columns(
            time_at("_first_good_row").alias("earliest_time"),
            time_at("_last_good_row").alias("latest_time"),
            event_column_at("event_type", "_first_good_row").cast(pl.String).alias("first_event_type"),
            event_column_at("event_type", "_last_good_row").cast(pl.String).alias("last_event_type"),
            event_column_at("buffering_ms", "_initial_end_row").alias("_startup_client_ms"),
            *[time_at(f"{moment}_row").alias(f"{moment}_time") for moment in moments],
            pl.col("initial_buffering_length").fill_null(0),
            pl.col("_any_end", "_any_start", "finished_playback").fill_null(False),
        )
        .with_columns(
            (pl.col("_play_interval_ms") / 1000.0).alias("_playing_s"), (watch_ms / 1000.0).alias("_watch_s")
        )
    )
    return stats.select(_session_columns()).collect()


def _session_columns() -> list[pl.Expr]:
    started = pl.col("_first_frame_time").is_not_null()
    failed = pl.col("_first_failure_time").is_not_null()
    startup_ms = pl.when(started).then(
        pl.col("_startup_client_ms")
        .cast(pl.Float64)
        .fill_null(
            (pl.col("_initial_end_time") - pl.col("_first_request_time"))
            .dt.total_milliseconds()
            .cast(pl.Float64)
        )
    )
    rebuffer_s = pl.col("_rebuffer_duration").fill_null(0.0)
    seek_s = pl.col("_seek_stall_duration").fill_null(0.0)
    watch_s = pl.col("_watch_s").fill_null(0.0)
    video_length = pl.col("video_length").cast(pl.Float64, strict=False)
    percent = pl.min_horizontal(pl.col("_max_location") / video_length * 100.0, pl.lit(100.0))
    percent = pl.when(video_length > 0).then(percent)
    return [
        "key",
        "tracking_id",
        "media_id",
        "earliest_time",
        "latest_time",
        pl.when(pl.col("_any_end"))
        .then(False)
        .when(pl.col("_any_start"))
        .then(True)
        .otherwise(None)
        .alias("incomplete_stream"),
        "finished_playback",
        "first_event_type",
        "last_event_type",
        pl.col("buffer_start_events").cast(pl.Int64),
        pl.when(pl.col("_playing_s") > 0).then(pl.col("_playing_s")).alias("playing_duration"),
        "source",
        "component",
        pl.col("_rebuffer_auto").fill_null(False).alias("auto_bitrate"),
        "client_id",
        "user_agent",
        "title",
        "session_id",
        "video_length",
        "position_earliest_play",
        "position_latest_play",
        pl.col("_rebuffer_ends").fill_null(0).cast(pl.Int64).alias("buffering_events"),
        pl.when(~pl.col("_rebuffer_broken").fill_null(False) & (pl.col("_rebuffer_pairs") > 0))
        .then(pl.col("_rebuffer_duration"))
        .alias("buffering_length"),
        pl.col("initial_buffering_length").cast(pl.Int64),
        pl.col("auto_bitrate_events").cast(pl.Int64),
        pl.col("user_bitrate_events").cast(pl.Int64),
        *[pl.lit(None, dtype=dtype).alias(c) for c, dtype in GEO_SCHEMA.items()],
        "media_id_mismatch",
        pl.col("program").alias("program_title"),
        "producer",
        pl.col("device_id").alias("x_client_id"),
        # QoE (definitions: docs/sources/agora.md)
        started.alias("started"),
        startup_ms.alias("startup_time_ms"),
        (failed & (~started | (pl.col("_first_failure_time") < pl.col("_first_frame_time")))).alias(
            "video_start_failure"
        ),
        (~started & ~failed).alias("exit_before_video_start"),
        (started & (pl.col("_last_failure_time") >= pl.col("_first_frame_time")).fill_null(False)).alias(
            "playback_failure"
        ),
        pl.col("_rebuffer_starts").fill_null(0).cast(pl.Int64).alias("rebuffer_count"),
        rebuffer_s.alias("rebuffer_duration"),
        pl.col("seek_count").cast(pl.Int64),
        pl.col("_seek_stall_mean").alias("seek_latency"),
        watch_s.alias("watch_time"),
        pl.max_horizontal(
            watch_s - rebuffer_s - seek_s - (startup_ms.fill_null(0.0) / 1000.0), pl.lit(0.0)
        ).alias("playing_time"),
        (pl.col("finished_playback") | (percent >= COMPLETION_THRESHOLD).fill_null(False)).alias("completed"),
        percent.alias("completion_percent"),
    ]


_PARSED_SCHEMA = {"line_number": pl.Int64, "seq": pl.Int64, "ts": pl.Datetime("ms")}


def parsed_sessions(parsed: pl.DataFrame) -> pl.DataFrame:
    """`session_stats` of one `parsing.parse_lines` frame holding whole streams (tests, small inputs)."""
    attributes = stream_attributes(attributes_frame(parsed.lazy()).collect())
    events, keys = local_streams(events_frame(parsed.lazy()).collect())
    return session_stats(number_streams(events, keys, attributes), attributes)


def empty_sessions() -> pl.DataFrame:
    """The output schema for a day without events, derived from one synthetic line."""
    row: dict = {c: None for c in (*EVENT_COLUMNS, "line")}
    row.update(seq=0, tracking_id="probe", tpmid="1", event_type=STARTED)
    probe = pl.DataFrame([row], schema={c: _PARSED_SCHEMA.get(c, pl.String) for c in row})
    return parsed_sessions(probe).clear()
