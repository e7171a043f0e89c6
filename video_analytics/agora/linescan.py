"""The native line scanner (`_linescan.c`) as polars frames, and its merge with the polars parser.

The scanner reads the logger's usual text lines in one pass (no regex per key) and hands back the
others ("slow" lines: JSON, odd timestamps, rejects, non-ASCII, ...) for `transforms.parse_lines`, so
every line still gets the general parser's answer. Without a C compiler at install time the module
is missing and `available()` is false: the engine then parses every line with polars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from video_analytics.agora import transforms
from video_analytics.agora.client import UTF8_REPLACED, lines_frame

if TYPE_CHECKING:
    import pyarrow as pa

try:
    from video_analytics.agora import _linescan
except ImportError:  # pragma: no cover - built by `pip install` wherever a C compiler exists
    _linescan = None


def available() -> bool:
    return _linescan is not None


def limit_memory() -> None:
    """For a day that does not fit in memory: fewer malloc arenas, big blocks returned at once
    (process-wide and slower; see `_linescan.c`)."""
    if _linescan is not None:
        _linescan.limit_memory()


@dataclass
class SlowLines:
    """Lines the scanner handed back: their numbers (`seq` from 0 within the block, or the day's once
    `ScannedBlock.placed`) and their text, each ended by "\\n"."""

    file: str
    first_line: int  # what turns `seq` into the line number in the file
    seq: pl.Series
    text: memoryview


def slow_lines_frame(parts: list[SlowLines]) -> pl.DataFrame:
    """Handed-back lines of many blocks as one `client.LogReader.blocks` frame (one read, not one per
    block: a read has a fixed cost)."""
    lines = lines_frame(b"".join(part.text for part in parts))
    seq = pl.concat([part.seq for part in parts])
    if lines.height != seq.len():  # the scanner ends every line with "\n": one line each
        raise RuntimeError(f"the scanner handed back {seq.len()} lines, {lines.height} read")
    numbers = pl.concat([part.seq + part.first_line for part in parts])
    file = pl.concat([pl.repeat(part.file, part.seq.len(), eager=True, dtype=pl.String) for part in parts])
    flags = [c for c in (UTF8_REPLACED,) if c in lines.columns]  # invalid UTF-8 replaced, to count
    return lines.select(file.alias("file"), numbers.alias("line_number"), "line", seq.alias("seq"), *flags)


@dataclass
class ScannedBlock:
    """One block, numbered from its first line (`seq` 0); `placed` numbers it within the day."""

    lines: int
    events: pl.DataFrame  # `transforms.events_frame` rows of the scanned lines, `stream` a row of `keys`
    keys: pl.Series  # the block's stream keys
    attributes: pl.DataFrame  # attribute rows (`transforms.ATTRIBUTE_ROW_COLUMNS`)
    slow: SlowLines  # the lines left to the polars parser
    keyless: pl.Series  # numbers (`seq`) of the lines read but lacking x_tracking_id or x_tpmid
    #: per event, the value of each custom field key asked for (`_v_<key>`), None when none was
    field_values: pl.DataFrame | None = None

    def placed(self, url: str, first_line: int, seq: int) -> ScannedBlock:
        """Sequence numbers from `seq`, handed-back lines of file `url` numbered from `first_line`."""
        shift = pl.col("seq") + seq
        slow = SlowLines(url, first_line - seq, self.slow.seq + seq, self.slow.text)
        events, attributes = self.events.with_columns(shift), self.attributes.with_columns(shift)
        return ScannedBlock(
            self.lines, events, self.keys, attributes, slow, self.keyless + seq, self.field_values
        )

    def keyless_rejects(self, url: str, first_line: int, seq: int, day: date) -> pl.DataFrame:
        """`transforms.rejects_frame` rows of the keyless lines of a `placed` block: file, line number,
        reason, and no text (`transforms.rejects_frame` keeps none for keyless lines either)."""
        return pl.DataFrame(
            {
                "date": pl.repeat(day, self.keyless.len(), eager=True, dtype=pl.Date),
                "file": pl.repeat(url, self.keyless.len(), eager=True, dtype=pl.String),
                "line_number": self.keyless + (first_line - seq),
                "reason": pl.repeat(transforms.KEYLESS_REASON, self.keyless.len(), eager=True),
                "line": pl.repeat(None, self.keyless.len(), eager=True, dtype=pl.String),
            },
            schema=transforms.REJECT_SCHEMA,
        )


def _arrow():
    """pyarrow, loaded with the first scanned block: every process imports the definitions (and this
    module), few read logs, and pyarrow's import costs 0.2 CPU-s."""
    import pyarrow

    return pyarrow


def _strings(buffers: tuple[bytes, bytes, bytes], rows: int) -> pa.Array:
    pa = _arrow()
    return pa.Array.from_buffers(pa.string(), rows, [pa.py_buffer(b) for b in buffers])


def _distinct(buffers: tuple[bytes, bytes]) -> pa.Array:
    """The distinct strings of the block, by number (stream keys, event types)."""
    pa = _arrow()
    rows = len(buffers[0]) // 4 - 1  # offsets: one more than strings
    return pa.Array.from_buffers(pa.string(), rows, [None, *map(pa.py_buffer, buffers)])


def _fixed(buffers: tuple[bytes, bytes], kind: pa.DataType, rows: int) -> pa.Array:
    pa = _arrow()
    return pa.Array.from_buffers(kind, rows, [pa.py_buffer(b) for b in buffers])


def _flags(bits: bytes, rows: int) -> pa.Array:
    pa = _arrow()
    return pa.Array.from_buffers(pa.bool_(), rows, [None, pa.py_buffer(bits)])


def _events(raw: dict) -> pl.DataFrame:
    pa = _arrow()
    rows, columns = raw["events"], raw["event_columns"]
    # event types as a dictionary: a Categorical without hashing every event's text
    types = pa.DictionaryArray.from_arrays(
        _fixed(columns["event_type"], pa.int32(), rows), _distinct(raw["event_types"])
    )
    table = pa.table(
        {
            "stream": pa.Array.from_buffers(pa.uint32(), rows, [None, pa.py_buffer(columns["stream"])]),
            "seq": _fixed(columns["line"], pa.uint32(), rows),
            "ts": _fixed(columns["ts"], pa.timestamp("ms"), rows),
            "event_type": types,
            "location": _fixed(columns["location"], pa.float64(), rows),
            "buffering_ms": _fixed(columns["buffering_ms"], pa.int64(), rows),
            "after_seek": _flags(columns["after_seek"], rows),
            "auto": _flags(columns["auto"], rows),
        }
    )
    return pl.from_arrow(table).select(
        "stream",
        pl.col("seq").cast(pl.Int64),
        "ts",
        "event_type",
        pl.lit(False).alias("bad"),
        "location",
        "buffering_ms",
        "after_seek",
        "auto",
    )


def _attributes(raw: dict) -> pl.DataFrame:
    pa = _arrow()
    columns = raw["attribute_columns"]
    rows = len(columns["line"][1]) // 4
    described = columns["described"]
    table = pa.table(
        {
            "seq": _fixed(columns["line"], pa.uint32(), rows),
            "key": _strings(columns["key"], rows),
            "tracking_id": _strings(columns["tracking_id"], rows),
            **{name: _strings(described[name], rows) for name in transforms.DESCRIBING},
            **{name: _strings(columns[name], rows) for name in ("media_id", "_tpmid_min", "_tpmid_max")},
        }
    )
    return pl.from_arrow(table).with_columns(pl.col("seq").cast(pl.Int64))


def _slow(raw: dict) -> SlowLines:
    pa = _arrow()
    _, index = raw["slow_lines"]
    seq = pa.Array.from_buffers(pa.uint32(), len(index) // 4, [None, pa.py_buffer(index)])
    return SlowLines("", 0, pl.Series("seq", seq).cast(pl.Int64), memoryview(raw["slow_text"]))


def _keyless(raw: dict) -> pl.Series:
    pa = _arrow()
    _, index = raw["keyless_lines"]
    seq = pa.Array.from_buffers(pa.uint32(), len(index) // 4, [None, pa.py_buffer(index)])
    return pl.Series("seq", seq).cast(pl.Int64)


def _field_values(raw: dict, field_keys: tuple[str, ...]) -> pl.DataFrame | None:
    if not field_keys:
        return None
    rows = raw["events"]
    columns = {
        f"_v_{key}": _strings(buffers, rows)
        for key, buffers in zip(field_keys, raw["field_columns"], strict=True)
    }
    return pl.from_arrow(_arrow().table(columns))


def scan(chunk: bytes | memoryview, field_keys: tuple[str, ...] = ()) -> ScannedBlock:
    """One block of whole lines (as `client.LogReader.chunks` yields them), with each event's value of
    the custom field keys `field_keys` read in the same pass. Thread-safe, and mostly outside the GIL:
    blocks are scanned in parallel threads."""
    raw = _linescan.scan(chunk, tuple(field_keys))
    keys = pl.Series("key", _distinct(raw["keys"]))
    return ScannedBlock(
        raw["lines"],
        _events(raw),
        keys,
        _attributes(raw),
        _slow(raw),
        _keyless(raw),
        _field_values(raw, tuple(field_keys)),
    )
