"""The native line scanner (`_linescan.c`) as polars frames, and its merge with the polars parser.

The scanner reads the logger's usual text lines in one pass (no regex per key) and hands back the
others ("slow" lines: JSON, odd timestamps, rejects, non-ASCII, ...) for `transforms.parse_lines`, so
every line still gets the general parser's answer. Without a C compiler at install time the module
is missing and `available()` is false: the engine then parses every line with polars.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from video_analytics.agora import transforms

try:
    from video_analytics.agora import _linescan
except ImportError:  # pragma: no cover - built by `pip install` wherever a C compiler exists
    _linescan = None


def available() -> bool:
    return _linescan is not None


@dataclass
class ScannedBlock:
    lines: int
    events: pl.DataFrame  # `transforms.events_frame` columns, `line` instead of `seq`
    attributes: pl.DataFrame  # rows deciding the descriptive attributes (see `block_attributes`)
    slow_lines: pl.Series  # 0-based indices in the block of the lines left to polars
    slow_text: bytes  # those lines, each ended by "\n"


def _strings(buffers: tuple[bytes, bytes, bytes], rows: int) -> pa.Array:
    return pa.Array.from_buffers(pa.string(), rows, [pa.py_buffer(b) for b in buffers])


def _fixed(buffers: tuple[bytes, bytes], kind: pa.DataType, rows: int) -> pa.Array:
    return pa.Array.from_buffers(kind, rows, [pa.py_buffer(b) for b in buffers])


def _flags(bits: bytes, rows: int) -> pa.Array:
    return pa.Array.from_buffers(pa.bool_(), rows, [None, pa.py_buffer(bits)])


def scan(chunk: bytes) -> ScannedBlock:
    """One block of whole lines (as `client.LogReader.chunks` yields them)."""
    raw = _linescan.scan(chunk)
    events, columns = raw["events"], raw["event_columns"]
    event_table = pa.table(
        {
            "line": _fixed(columns["line"], pa.uint32(), events),
            "key": _strings(columns["key"], events),
            "ts": _fixed(columns["ts"], pa.timestamp("ms"), events),
            "event_type": _strings(columns["event_type"], events),
            "location": _fixed(columns["location"], pa.float64(), events),
            "buffering_ms": _fixed(columns["buffering_ms"], pa.int64(), events),
            "after_seek": _flags(columns["after_seek"], events),
            "auto": _flags(columns["auto"], events),
        }
    )
    columns = raw["attribute_columns"]
    rows = len(columns["line"][1]) // 4
    attribute_table = pa.table(
        {
            "line": _fixed(columns["line"], pa.uint32(), rows),
            "key": _strings(columns["key"], rows),
            "tracking_id": _strings(columns["tracking_id"], rows),
            **{name: _strings(columns["described"][name], rows) for name in transforms.DESCRIBING},
            **{name: _strings(columns[name], rows) for name in ("media_id", "_tpmid_min", "_tpmid_max")},
        }
    )
    _, slow_index = raw["slow_lines"]
    slow = pa.Array.from_buffers(pa.uint32(), len(slow_index) // 4, [None, pa.py_buffer(slow_index)])
    return ScannedBlock(
        lines=raw["lines"],
        events=pl.from_arrow(event_table),
        attributes=pl.from_arrow(attribute_table),
        slow_lines=pl.Series("line", slow),
        slow_text=raw["slow_text"],
    )


def fast_frames(scanned: ScannedBlock, seq: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The scanned lines as `transforms.events_frame` rows and attribute rows (the scanner keeps only
    the rows that can decide an attribute); `seq`: delivery number of the block's first line."""
    events = scanned.events.select(
        "key",
        (pl.col("line").cast(pl.Int64) + seq).alias("seq"),
        "ts",
        pl.col("event_type").cast(pl.Categorical),
        pl.lit(False).alias("bad"),
        "location",
        "buffering_ms",
        "after_seek",
        "auto",
    )
    rows = scanned.attributes.with_columns((pl.col("line").cast(pl.Int64) + seq).alias("seq"))
    return events, rows.select(transforms.ATTRIBUTE_ROW_COLUMNS)


def slow_lines(scanned: ScannedBlock, url: str, first_line: int, seq: int) -> pl.DataFrame:
    """The lines left to the polars parser, as `client.LogReader.blocks` frames with `seq`."""
    from video_analytics.agora.client import lines_frame

    index = scanned.slow_lines.cast(pl.Int64)
    lines = lines_frame(scanned.slow_text).drop("line_number")
    if lines.height != index.len():  # the scanner ends every line with "\n": one line each
        raise RuntimeError(f"{url}: {index.len()} lines handed back by the scanner, {lines.height} read")
    return lines.select(
        pl.lit(url).alias("file"),
        (index + first_line).alias("line_number"),
        "line",
        (index + seq).alias("seq"),
    )
