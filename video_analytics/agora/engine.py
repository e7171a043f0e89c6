"""One day of logs -> per-stream stats, rejects and the original's job counters, in bounded memory.

Two phases:

1. every block of lines becomes compact typed events plus the few rows that decide each stream's
   descriptive attributes: the native scanner (`linescan`, one block per core at a time on threads) reads the
   logger's usual lines, the polars parser (`parsing.parse_lines`) the lines it hands back, in
   batches, and every line when the scanner is not built. Rejects are kept with their reason. Days
   up to `IN_MEMORY_DAY_LINES` keep the events in memory; bigger days spill them to Parquet files
   hashed by stream key into buckets;
2. each bucket (all events of its streams) is aggregated by polars on its own, so peak memory is
   about one bucket's events plus the day's output (one row per stream), whatever the size of the day.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from video_analytics.agora import configuration, custom_fields, linescan, parsing, stream_events, stream_walk
from video_analytics.agora.client import UTF8_REPLACED, EmptyDayError, LogReader
from video_analytics.agora.configuration import DEFAULT_BUCKET_LINES

#: Days up to this many lines are aggregated in memory, in one bucket, when the native scanner reads
#: them (measured peak RSS: 0.57 GB for 1M lines, 0.92 GB for 2M, 1.12 GB for 2.5M). Sized in lines,
#: not bytes: memory follows the number of events, and short lines put more of them in the same bytes.
#: The polars-only parser keeps bulkier frames: it spills from one bucket.
IN_MEMORY_DAY_LINES = 2_000_000
#: Events of a spilled day wait in memory up to this size before each bucket's are written at once.
SPILL_BUFFER_BYTES = 64 * 1024 * 1024
GZIP_RATIO = 8  # assumed decompressed/compressed size, to size a day before reading it


REPLACED_SCHEMA = {"file": pl.String, "line_number": pl.Int64}


@dataclass
class DayResult:
    sessions: pl.DataFrame
    rejects: pl.DataFrame
    reasons: Counter = field(default_factory=Counter)
    lines: int = 0
    #: lines whose invalid UTF-8 bytes were replaced by U+FFFD (`file`, `line_number`)
    utf8_replaced: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REPLACED_SCHEMA))

    def counters(self) -> dict[str, int]:
        """The original's job counters (total, valid, keyless, unparsable), plus bad data."""
        unparsable = sum(self.reasons[r] for r in parsing.UNPARSABLE_REASONS)
        keyless = self.reasons[parsing.KEYLESS_REASON]
        bad = self.reasons[parsing.BAD_DATA_REASON]
        return {
            "total_events": self.lines,
            "valid_events": self.lines - unparsable - keyless,
            "keyless_events": keyless,
            "unparsable_events": unparsable,
            "bad_data_events": bad,
            "total_streams": self.sessions.height,
        }


class _EventStore:
    """Events, stream keys and attribute rows of a day: in memory, or spilled to Parquet by key-hash
    bucket. Each bucket's events number their streams (`stream`) into its keys, concatenated in the
    order they were added (a key repeats when streams span blocks)."""

    TABLES = ("events", "keys", "attributes")

    def __init__(self, buckets: int):
        self.buckets = buckets
        self.frames: dict[str, list[pl.DataFrame]] = {t: [] for t in self.TABLES}
        self.key_counts = [0] * buckets  # keys added to each bucket so far
        self.folder = Path(tempfile.mkdtemp(prefix="agora-events-")) if buckets > 1 else None
        # spilled blocks wait in memory up to SPILL_BUFFER_BYTES, then each bucket's rows are written at once
        self.pending_bytes, self.writes = 0, 0

    def add(self, events: pl.DataFrame, keys: pl.Series, attributes: pl.DataFrame) -> None:
        """A block's events, numbering their streams into `keys`, and attribute rows."""
        if self.folder is None:  # one bucket
            events = events.with_columns(pl.col("stream") + self.key_counts[0])
            self.key_counts[0] += keys.len()
            for table, frame in zip(self.TABLES, (events, keys.to_frame("key"), attributes), strict=True):
                self.frames[table].append(frame)
            return
        bucket = (pl.col("key").hash(seed=0) % self.buckets).cast(pl.UInt32).alias("_bucket")
        streams = keys.to_frame("key").with_columns(bucket)
        # a stream's number among its bucket's keys: those of earlier blocks, then its row in this block
        offsets = pl.Series(self.key_counts, dtype=pl.UInt32)
        numbers = streams.select(
            pl.lit(offsets).gather(pl.col("_bucket"))
            + pl.int_range(pl.len(), dtype=pl.UInt32).over("_bucket")
        ).to_series()
        for number, count in streams["_bucket"].value_counts().iter_rows():
            self.key_counts[number] += count
        events = events.with_columns(
            streams["_bucket"].gather(events["stream"]), numbers.gather(events["stream"]).alias("stream")
        )
        block = (events, streams, attributes.with_columns(bucket))
        for table, frame in zip(self.TABLES, block, strict=True):
            self.frames[table].append(frame)
        self.pending_bytes += sum(frame.estimated_size() for frame in block)
        if self.pending_bytes > SPILL_BUFFER_BYTES:
            self._write_pending()

    def _write_pending(self) -> None:
        """The waiting blocks as one file per bucket and table (a Parquet write has a fixed cost: one per
        block and bucket took most of a spilled day's time)."""
        if not self.frames["events"]:
            return
        self.writes += 1
        for table, frames in self.frames.items():
            for (bucket,), part in (
                pl.concat(frames).partition_by("_bucket", as_dict=True, include_key=False).items()
            ):
                target = self.folder / table / f"bucket={bucket}"
                target.mkdir(parents=True, exist_ok=True)
                # lz4: temporary files, written once and read once (zstd's CPU measured 1.5x lz4's);
                # numbered so that they are read back in the order they were added
                part.write_parquet(target / f"part-{self.writes:06d}.parquet", compression="lz4")
            frames.clear()
        self.pending_bytes = 0

    def groups(self) -> Iterator[tuple[pl.DataFrame, pl.Series, pl.DataFrame]]:
        """(events, keys, attribute rows) of disjoint sets of whole streams."""
        if self.folder is None:
            if self.frames["events"]:
                # one chunk per column: the walk's sort and gathers are faster on contiguous columns
                events, keys, attributes = (pl.concat(self.frames[t], rechunk=True) for t in self.TABLES)
                yield events, keys["key"], attributes
            return
        self._write_pending()
        for target in sorted((self.folder / "events").glob("bucket=*")):
            events, keys, attributes = (
                pl.read_parquet(sorted((self.folder / table / target.name).glob("*.parquet")))
                for table in self.TABLES
            )
            yield events, keys["key"], attributes

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def compact(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy that owns its strings. Polars string columns are views into the buffers they were cut
    from, so a few kept reject lines would otherwise pin every block's whole text in memory."""
    return pl.from_arrow(frame.to_arrow())


def empty_sessions() -> pl.DataFrame:
    return pl.DataFrame(schema=_sessions_schema())


@functools.cache
def _sessions_schema() -> pl.Schema:
    """Derived once per process: `stream_walk.empty_sessions` runs the whole aggregation on a probe line
    (0.04 CPU-s), and a run asks for the schema several times."""
    return stream_walk.empty_sessions().select(pl.lit(None, pl.Date).alias("date"), pl.all()).schema


def estimated_lines(reader: LogReader, files: list[str]) -> int:
    """The day's lines, from its stored size and the length of its first lines (gzip: an assumed
    ratio; the estimate only chooses between memory and buckets, and the buckets' number)."""
    compressed = any(f.endswith(".gz") for f in files)
    text_bytes = reader.day_bytes(files) * (GZIP_RATIO if compressed else 1)
    return math.ceil(text_bytes / reader.bytes_per_line(files))


def bucket_count(lines: int, bucket_lines: int, in_memory_lines: int) -> int:
    return 1 if lines <= in_memory_lines else max(2, math.ceil(lines / bucket_lines))


@dataclass
class _Parsed:
    """What the engine keeps of parsed lines: typed events (`stream`: a row of `keys`), attribute rows,
    rejects."""

    events: pl.DataFrame
    keys: pl.Series
    attributes: pl.DataFrame
    rejects: pl.DataFrame
    custom: pl.DataFrame | None = None  # custom fields: partial rows per stream (`custom_fields`)
    utf8_replaced: pl.DataFrame | None = None  # lines whose invalid UTF-8 was replaced (file, line_number)


def _parse(lines: pl.DataFrame, day: date, fields=()) -> _Parsed:
    """Lines (`file`, `line_number`, `line`, `seq`) through the polars parser (and `fields`, custom)."""
    parsed = parsing.parse_lines(lines.lazy(), describe=False).collect()
    keyed_rows = stream_events.keyed_frame(parsed)
    keyed = keyed_rows.lazy()
    events, attributes, rejects = pl.collect_all(
        [
            stream_events.events_frame(keyed),
            stream_events.attributes_frame(keyed),
            parsing.rejects_frame(parsed.lazy(), pl.lit(day)),
        ]
    )
    # the text columns kept are views into the whole block's lines: copied out to free them
    events, keys = stream_events.local_streams(events)
    replaced = None
    if UTF8_REPLACED in lines.columns:
        replaced = lines.filter(UTF8_REPLACED).select("file", "line_number")
    custom = custom_fields.keyed_partials(keyed_rows, fields)
    return _Parsed(
        events,
        compact(keys.to_frame())["key"],
        compact(attributes),
        compact(rejects),
        None if custom is None else compact(custom),
        replaced,
    )


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity (a container or `taskset` share), not the host's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _ahead(function: Callable, items: Iterator, workers: int = 2) -> Iterator:
    """`function(item)` of each item in order, computed by threads up to `workers` items ahead (the
    scanner releases the GIL, so blocks are scanned on every core given while this thread merges)."""
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _polars_day(
    reader: LogReader, files: list[str], day: date, log: Callable[[str], None], fields=()
) -> Iterator[_Parsed]:
    """Every line of the day through the polars parser (no native scanner), block by block."""
    seq = 0
    for url in files:
        for block in reader.blocks(url):
            block = block.with_columns(pl.int_range(seq, seq + block.height, dtype=pl.Int64).alias("seq"))
            seq += block.height
            yield _parse(block, day, fields)
        log(f"agora {day}: {url} done, {seq} lines so far")


#: Lines the scanner hands back are parsed by polars in batches of this many (a parse has a fixed cost).
SLOW_BATCH_LINES = 100_000


def _scanned_day(
    reader: LogReader,
    files: list[str],
    day: date,
    log: Callable[[str], None],
    fields=(),
    threads: int = 2,
) -> Iterator[_Parsed]:
    """Every file of the day through the native scanner, as one stream of blocks (two scanned ahead,
    across file ends); the lines it hands back are parsed by polars in batches."""
    seq, batch = 0, []

    def flush() -> _Parsed:
        parsed = _parse(linescan.slow_lines_frame(batch), day, fields)
        batch.clear()
        return parsed

    keys = custom_fields.field_keys(fields)

    def scan(item: tuple[str, bytes]) -> tuple[str, linescan.ScannedBlock, pl.DataFrame | None]:
        # the custom fields' values are read in the same pass, on the lines that became events
        scanned = linescan.scan(item[1], keys)
        custom = custom_fields.scanned_partials(scanned.events, scanned.keys, scanned.field_values, fields)
        return item[0], scanned, custom

    chunks = ((url, chunk) for url in files for chunk in reader.chunks(url))
    current, first_line = None, 1
    for url, scanned, custom in _ahead(scan, chunks, threads):
        if url != current:
            if current is not None:
                log(f"agora {day}: {current} done, {seq} lines so far")
            current, first_line = url, 1
        block = scanned.placed(url, first_line, seq)
        custom = custom_fields.shift(custom, seq)
        batch.append(block.slow)
        keyless = block.keyless_rejects(url, first_line, seq, day)
        reader.counters.lines += block.lines
        first_line += block.lines
        seq += block.lines
        yield _Parsed(block.events, block.keys, block.attributes, keyless, custom)
        if sum(part.seq.len() for part in batch) >= SLOW_BATCH_LINES:
            yield flush()
    if batch:
        yield flush()
    if current is not None:
        log(f"agora {day}: {current} done, {seq} lines so far")


def analyse_day(
    reader: LogReader,
    day: date,
    *,
    bucket_lines: int = DEFAULT_BUCKET_LINES,
    in_memory_lines: int | None = None,
    log: Callable[[str], None] = lambda _: None,
    fields: tuple[configuration.CustomField, ...] = (),
    warn: Callable[[str], None] | None = None,
    scan_threads: int | None = None,
) -> DayResult:
    """Parse and aggregate every file of `day`; raises `FileNotFoundError` if the folder is empty.
    Days of more than `in_memory_lines` (estimated) spill their events to buckets of `bucket_lines`.
    `fields`: custom fields aggregated per stream (`custom_fields`), one column each. `warn` (default:
    `log`) hears what a user should look at: copies skipped, empty files, invalid UTF-8.
    The native scanner runs on `scan_threads` threads (default: the cores this process is given)."""
    warn = warn or log
    files = _readable_files(reader, day, warn)
    if in_memory_lines is None:
        in_memory_lines = IN_MEMORY_DAY_LINES if linescan.available() else bucket_lines
    lines = estimated_lines(reader, files)
    buckets = bucket_count(lines, bucket_lines, in_memory_lines)
    log(f"agora {day}: {len(files)} files, about {lines:,} lines, {buckets} bucket(s)")
    if buckets > 1:
        linescan.limit_memory()
    store = _EventStore(buckets)
    lines_before = reader.counters.lines
    rejects: list[pl.DataFrame] = []
    reasons: Counter = Counter()
    partials: list[pl.DataFrame] = []  # custom fields, one row per stream and block
    replaced: list[pl.DataFrame] = []
    try:
        if linescan.available():
            parts = _scanned_day(reader, files, day, log, fields, scan_threads or available_cores())
        else:
            parts = _polars_day(reader, files, day, log, fields)
        for parsed in parts:
            store.add(parsed.events, parsed.keys, parsed.attributes)
            if parsed.custom is not None:
                partials.append(parsed.custom)
            if parsed.utf8_replaced is not None:
                replaced.append(parsed.utf8_replaced)
            reasons.update(dict(parsed.rejects.group_by("reason").len().iter_rows()))
            rejects.append(parsed.rejects)
        # spilled buckets' sessions are copied out, so each bucket's text buffers are freed with it
        finish = compact if buckets > 1 else (lambda frame: frame)
        sessions = []
        for events, keys, rows in store.groups():
            attributes = stream_events.stream_attributes(rows)
            streams = stream_events.number_streams(events, keys, attributes)
            sessions.append(finish(stream_walk.session_stats(streams, attributes)))
    finally:
        store.close()
    if not sessions:
        frame = empty_sessions()
    else:
        # no global sort or rechunk: each would copy the whole day once more (rows come in the order of
        # their first line within each bucket, and buckets in a fixed order: the output is deterministic)
        frame = pl.concat(sessions, rechunk=False).select(pl.lit(day).alias("date"), pl.all())
    frame = custom_fields.attach(frame, partials, fields)
    reject_frame = pl.concat(rejects) if rejects else pl.DataFrame(schema=parsing.REJECT_SCHEMA)
    utf8 = pl.concat(replaced) if replaced else pl.DataFrame(schema=REPLACED_SCHEMA)
    if utf8.height:
        first = utf8.row(0, named=True)
        warn(
            f"agora {day}: {utf8.height} line(s) held invalid UTF-8, replaced by U+FFFD "
            f"(first: {first['file']} line {first['line_number']})"
        )
    return DayResult(frame, reject_frame, reasons, reader.counters.lines - lines_before, utf8)


def _readable_files(reader: LogReader, day: date, warn: Callable[[str], None]) -> list[str]:
    """The day's files to read; raises `FileNotFoundError` if there are none, `EmptyDayError` if they
    are all empty. Empty files among others, and copies skipped, are logged by name."""
    folder = f"{reader.root.rstrip('/')}/{day.isoformat()}/"
    files = reader.day_files(day)
    if not files:
        raise FileNotFoundError(f"no log files under {folder}")
    for copy, original in reader.duplicates.items():
        warn(f"agora {day}: skipped {copy}: a byte-for-byte copy of {original}")
    empty = [url for url, size in reader.file_sizes(files).items() if size == 0]
    if len(empty) == len(files):
        raise EmptyDayError(f"every log file under {folder} is empty (0 bytes): {', '.join(empty)}")
    if empty:
        warn(f"agora {day}: {len(empty)} empty (0-byte) file(s): {', '.join(empty)}")
    return files
