"""Pure polars: player-log lines -> events (+ rejects) -> per-stream stats -> per-video daily stats.

No I/O here; `engine.py` feeds these functions chunk by chunk. Every function is a vectorised polars
expression over a whole chunk: there is no Python code per line.

Where we deliberately differ from the original (pbs/agora-proc, see docs/sources/agora.md):

* timestamps keep their milliseconds (the original dropped them), so durations are fractional
  seconds and events at the same second are ordered by time, then by file and line number;
  logs are taken as UTC (the original left server-local time, with a TODO to convert);
* an empty quoted value (`k=""`) is an empty value, it does not swallow the next pair;
* `position_earliest_play` compares playhead positions as numbers, not strings;
* the seek filter on `MediaBufferingEnd` works (the original's test was inverted and case-sensitive):
  buffering flagged `x_after_seek=true` is seek latency, not rebuffering;
* `position_latest_play` (lost to a Python slip in the original) is reported;
* empty ids count as missing (the original only checked that the key exists).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import polars as pl

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

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

#: Key length below which the tracking id is disambiguated by the video id (the original's rule).
SHORT_TRACKING_ID = 30
#: Playhead share of the duration from which a view counts as completed without MediaCompleted.
COMPLETION_THRESHOLD = 95.0

# output column -> keys that carry it in the text format (first present wins)
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "event_type": ("event_type",),
    "tracking_id": ("x_tracking_id",),
    "tpmid": ("x_tpmid",),
    "location_raw": ("x_video_location",),
    "buffering_raw": ("x_buffering_length",),
    "after_seek_raw": ("x_after_seek",),
    "auto_raw": ("x_auto",),
    "source": ("source_tag",),
    "component": ("component",),
    "client_id": ("client_id",),
    "user_agent": ("x_useragent", "x_user_agent"),
    "title": ("x_episode_title",),
    "session_id": ("x_session_id",),
    "video_length": ("x_video_length",),
    "program": ("x_program_title",),
    "producer": ("x_producer",),
    "device_id": ("x_client_id",),
}
#: Fields every event needs (keys, rejects, the per-stream walk); the rest describe the stream.
CORE_FIELDS = (
    "event_type",
    "tracking_id",
    "tpmid",
    "location_raw",
    "buffering_raw",
    "after_seek_raw",
    "auto_raw",
)
DESCRIBING = tuple(name for name in TEXT_FIELDS if name not in CORE_FIELDS)
#: What partial attribute results hold (`attribute_rows`, `reduce_attribute_rows`).
ATTRIBUTE_ROW_COLUMNS = ("seq", "key", "tracking_id", *DESCRIBING, "media_id", "_tpmid_min", "_tpmid_max")
TEXT_KEYS = tuple(sorted({key for keys in TEXT_FIELDS.values() for key in keys}))
# the fluentd JSON format (the original's master branch): same x_ keys, plus remote/agent/path
JSON_FIELDS: dict[str, tuple[str, ...]] = {
    **TEXT_FIELDS,
    "client_id": ("remote",),
    "user_agent": ("agent", "x_useragent", "x_user_agent"),
}

EVENT_COLUMNS = ("file", "line_number", "seq", "ts", *TEXT_FIELDS, "reject_reason")
REJECT_SCHEMA = {
    "date": pl.Date,
    "file": pl.String,
    "line_number": pl.Int64,
    "reason": pl.String,
    "line": pl.String,
}
#: Rejection reasons, grouped into the original's job counters.
UNPARSABLE_REASONS = ("blank", "bad_timestamp", "no_payload", "invalid_json")
KEYLESS_REASON = "keyless"
BAD_DATA_REASON = "bad_buffering_length"


def _non_empty(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.str.len_bytes() > 0).then(expr)


def _text_tokens(line: pl.Expr) -> pl.Expr:
    """All `key=value` pairs of the keys we read, in one left-to-right regex pass per line.

    Values are `"quoted"` (may be empty, may hold spaces) or bare (up to the next space). Tokenising
    left to right, like the original, means a quoted value of one of these keys is consumed whole, so
    ` key=` text inside it is not mistaken for a pair.
    """
    keys = "|".join(sorted(TEXT_KEYS, key=len, reverse=True))
    return line.str.extract_all(rf' (?:{keys})=(?:"[^"]*"|\S*)')


def _text_value(tokens: pl.Expr, key: str) -> pl.Expr:
    """The value of `key` among the tokens (the last one wins, as in the original's dict); one pair
    of surrounding quotes stripped; empty is null."""
    prefix = f" {key}="
    token = tokens.list.eval(pl.element().filter(pl.element().str.starts_with(prefix))).list.last()
    return _non_empty(token.str.slice(len(prefix)).str.strip_prefix('"').str.strip_suffix('"'))


def _json_value(line: pl.Expr, key: str) -> pl.Expr:
    return _non_empty(line.str.json_path_match(f"$.{key}"))


def _first_present(values: list[pl.Expr]) -> pl.Expr:
    return values[0] if len(values) == 1 else pl.coalesce(values)


def _timestamp(text: pl.Expr) -> pl.Expr:
    """`YYYY-MM-DD HH:MM:SS[,mmm]` (or ISO `T`, `.mmm`, `Z`) -> Datetime(ms); null if unparsable."""
    seconds = text.str.slice(0, 19).str.replace("T", " ", literal=True)
    base = seconds.str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="ms", strict=False)
    has_ms = text.str.slice(19, 1).is_in([",", "."])
    millis = text.str.slice(20, 3).str.pad_end(3, "0").cast(pl.Int64, strict=False)
    return base + pl.duration(milliseconds=pl.when(has_ms).then(millis).otherwise(0).fill_null(0))


def _parse_text(lines: pl.LazyFrame) -> pl.LazyFrame:
    line = pl.col("line")
    marker = line.str.find("] ", literal=True)  # the payload starts after the first "] "
    fields = [
        _first_present([_text_value(pl.col("_tokens"), key) for key in keys]).alias(name)
        for name, keys in TEXT_FIELDS.items()
    ]
    return (
        lines.with_columns(
            _timestamp(line).alias("ts"), marker.alias("_marker"), _text_tokens(line).alias("_tokens")
        )
        .with_columns(fields)
        .drop("_tokens")
        .with_columns(
            pl.when(line.str.len_bytes() == 0)
            .then(pl.lit("blank"))
            .when(pl.col("ts").is_null())
            .then(pl.lit("bad_timestamp"))
            .when(pl.col("_marker").is_null())
            .then(pl.lit("no_payload"))
            .alias("_unparsable")
        )
        .drop("_marker")
    )


#: A flat JSON object of plain strings, compact, as fluentd writes it: no escapes, no nesting, no other
#: value types, no raw control characters (those are invalid JSON). In such a line `"` only delimits
#: strings, so `"key":"` can only start a pair, and a regex per key reads what `json_path_match` reads.
_PLAIN = r'[^"\\\x00-\x1f]*'
_SIMPLE_JSON = rf'^\{{"{_PLAIN}":"{_PLAIN}"(?:,"{_PLAIN}":"{_PLAIN}")*\}}$'


def _simple_json_value(line: pl.Expr, key: str) -> pl.Expr:
    """`_json_value` of a `_SIMPLE_JSON` line without parsing it: its last `"key":"…"` pair (a JSON path
    reads the last of repeated keys). `json_path_match` parses the whole line for every key: measured
    about 10x slower."""
    prefix = f'"{key}":"'
    pair = line.str.extract_all(re.escape(prefix) + '[^"]*"').list.last()
    return _non_empty(pair.str.slice(len(prefix)).str.strip_suffix('"'))


def _json_fields(names, value: Callable[[pl.Expr, str], pl.Expr] = _json_value) -> list[pl.Expr]:
    """JSON fields by name; `source` from the fluentd path (`/log/<source>/...`), else `source_tag`."""
    line = pl.col("line")
    fields = {name: _first_present([value(line, key) for key in JSON_FIELDS[name]]) for name in names}
    if "source" in fields:
        path = value(line, "path")
        fields["source"] = _non_empty(path.str.split("/").list.get(2, null_on_oob=True)).fill_null(
            fields["source"]
        )
    return [field.alias(name) for name, field in fields.items()]


def _parse_json(lines: pl.LazyFrame, describe: bool = True, simple: bool = False) -> pl.LazyFrame:
    """JSON lines; `simple`: every line is `_SIMPLE_JSON` (valid, read by a regex per key)."""
    line = pl.col("line")
    value = _simple_json_value if simple else _json_value
    nothing = [pl.lit(None, pl.String).alias(n) for n in DESCRIBING]
    time_text = _simple_json_value(line, "time") if simple else line.str.json_path_match("$.time")
    epoch = time_text.cast(pl.Float64, strict=False)
    invalid = pl.lit(False) if simple else line.str.json_path_match("$").is_null()
    return lines.with_columns(
        pl.when(epoch.is_not_null())
        .then(pl.from_epoch((epoch * 1000).cast(pl.Int64), time_unit="ms"))
        .otherwise(_timestamp(time_text))
        .alias("ts"),
        *_json_fields(CORE_FIELDS, value),
        *(_json_fields(DESCRIBING, value) if describe else nothing),
        pl.lit(describe).alias("_described"),
    ).with_columns(
        pl.when(invalid)
        .then(pl.lit("invalid_json"))
        .when(pl.col("ts").is_null())
        .then(pl.lit("bad_timestamp"))
        .alias("_unparsable"),
    )


def _key_token(key: str) -> str:
    return rf' {re.escape(key)}=(?:"[^"]*"|\S*)'


def _fast_text_value(line: pl.Expr, key: str) -> pl.Expr:
    """`_text_value` of one key without tokenising the whole line: a regex for this key alone (a
    literal-prefixed search without capture groups, then `list.last`, instead of the all-keys
    tokeniser plus a `list.eval` per field). Equal to the tokeniser on lines where no quoted value
    holds a ` key=` text (`_TOKEN_IN_QUOTES`); the others take the tokeniser."""
    prefix = f" {key}="
    token = line.str.extract_all(_key_token(key)).list.last()
    return _non_empty(token.str.slice(len(prefix)).str.strip_prefix('"').str.strip_suffix('"'))


#: A quoted value containing ` key=` of a key we read: the per-key search could see a pair there.
_TOKEN_IN_QUOTES = '="[^"]* (?:' + "|".join(re.escape(k) for k in TEXT_KEYS) + ")="
_TEXT_STAMP = "%Y-%m-%d %H:%M:%S,%3f"


def _fast_timestamp(line: pl.Expr) -> pl.Expr:
    """The logger's own `YYYY-MM-DD HH:MM:SS,mmm` with one exact format (null otherwise: those lines
    take `_timestamp`, which also reads `T`, `.`, `Z` and fewer digits)."""
    return line.str.slice(0, 23).str.strptime(pl.Datetime("ms"), _TEXT_STAMP, strict=False)


def _fast_fields(names) -> list[pl.Expr]:
    line = pl.col("line")
    return [
        _first_present([_fast_text_value(line, key) for key in TEXT_FIELDS[name]]).alias(name)
        for name in names
    ]


def _parse_text_fast(lines: pl.LazyFrame, describe: bool) -> pl.LazyFrame:
    no_payload = pl.col("line").str.find("] ", literal=True).is_null()
    described = (
        _fast_fields(DESCRIBING) if describe else [pl.lit(None, pl.String).alias(n) for n in DESCRIBING]
    )
    return lines.with_columns(
        *_fast_fields(CORE_FIELDS),
        *described,
        pl.when(no_payload).then(pl.lit("no_payload")).alias("_unparsable"),
        pl.lit(describe).alias("_described"),
    ).rename({"_fast_ts": "ts"})


def parse_lines(lines: pl.LazyFrame, describe: bool = True) -> pl.LazyFrame:
    """Lines (`line`, `file`, `line_number`, `seq`) -> one row per line with the parsed fields and a
    `reject_reason` (null for a valid event). Text and fluentd JSON lines may be mixed freely.

    `describe=False` leaves the descriptive fields of fast-path text and JSON lines null (`_described`
    false): `attributes_frame` reads them only from the few lines it needs (a stream's first line,
    mostly), so 7 of the 18 keys are read per line (measured 2.3x faster than `describe=True`).

    Text lines in the logger's usual shape (exact timestamp, no `key=` text inside quoted values) take
    the fast path; the rest the general tokeniser, which gives the same answer on the usual shape."""
    line = pl.col("line")
    is_json = line.str.starts_with("{")
    fast = ~is_json & pl.col("_fast_ts").is_not_null() & ~line.str.contains(_TOKEN_IN_QUOTES)
    simple = is_json & line.str.contains(_SIMPLE_JSON)
    classified = lines.with_columns(_fast_timestamp(line).alias("_fast_ts")).with_columns(
        pl.when(simple)
        .then(3)
        .when(is_json)
        .then(2)
        .when(fast)
        .then(0)
        .otherwise(1)
        .cast(pl.Int8)
        .alias("_path")
    )
    path = pl.col("_path")
    parsed = pl.concat(
        [
            _parse_text_fast(classified.filter(path == 0).drop("_path"), describe),
            _parse_text(classified.filter(path == 1).drop("_path", "_fast_ts")).with_columns(
                pl.lit(True).alias("_described")
            ),
            _parse_json(classified.filter(path == 2).drop("_path", "_fast_ts"), describe),
            _parse_json(classified.filter(path == 3).drop("_path", "_fast_ts"), describe, simple=True),
        ],
        how="diagonal_relaxed",
    )
    buffering_ms = pl.col("buffering_raw").str.strip_chars().cast(pl.Int64, strict=False)
    reason = (
        pl.when(pl.col("_unparsable").is_not_null())
        .then(pl.col("_unparsable"))
        .when(pl.col("tracking_id").is_null() | pl.col("tpmid").is_null())
        .then(pl.lit(KEYLESS_REASON))
        .when(pl.col("buffering_raw").is_not_null() & (buffering_ms.is_null() | (buffering_ms < 0)))
        .then(pl.lit(BAD_DATA_REASON))
    )
    extra = [] if describe else ["_described"]
    return parsed.with_columns(reason.alias("reject_reason")).select(*EVENT_COLUMNS, "line", *extra)


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


def _describe(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Fill the descriptive fields of rows parsed with `describe=False` (fast-path text or JSON). Each
    kind of line is read by its own reader on its own rows (a when/then would run every reader on every
    row, and the general JSON one parses the line once per field)."""
    line = pl.col("line")
    is_json = line.str.starts_with("{")
    kind = (
        pl.when(pl.col("_described"))
        .then(0)
        .when(is_json & line.str.contains(_SIMPLE_JSON))
        .then(1)
        .when(is_json)
        .then(2)
        .otherwise(3)
    )
    readers = [
        [],
        _json_fields(DESCRIBING, _simple_json_value),
        _json_fields(DESCRIBING),
        _fast_fields(DESCRIBING),
    ]
    rows = rows.with_columns(kind.alias("_kind"))
    return pl.concat(
        [rows.filter(pl.col("_kind") == number).with_columns(fields) for number, fields in enumerate(readers)]
    ).drop("_kind")


def _described_rows(keyed: pl.LazyFrame) -> pl.LazyFrame:
    """The rows whose descriptive fields decide the first non-empty values: each stream's first row,
    plus every row of the streams whose first row lacks one of them (the answer is unchanged)."""
    if "_described" not in keyed.collect_schema():
        return keyed
    first = pl.col("seq") == pl.col("seq").min().over("key")
    keyed = keyed.with_columns(first.alias("_first"))
    firsts = _describe(keyed.filter("_first"))
    complete = firsts.filter(pl.all_horizontal(pl.col(DESCRIBING).is_not_null())).select("key")
    others = _describe(keyed.filter(~pl.col("_first")).join(complete, on="key", how="anti"))
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


def stream_attributes(rows: pl.DataFrame) -> pl.DataFrame:
    """All attribute rows of whole streams -> `session_stats`'s attributes, one row per stream, in the
    order of their first line (deterministic, and no sort of the keys)."""
    return reduce_attribute_rows(rows).select(
        "key",
        "tracking_id",
        *[pl.col(c).str.to_lowercase() if c == "session_id" else c for c in (*DESCRIPTIVE, *QOE_EXTRA)],
        "media_id",
        (pl.col("_tpmid_min") != pl.col("_tpmid_max")).fill_null(False).alias("media_id_mismatch"),
    )


def attributes_frame(parsed: pl.LazyFrame) -> pl.LazyFrame:
    """The reduced attribute rows of parsed lines (`parse_lines`, or `keyed_frame` of it)."""
    keyed = keyed_frame(parsed)
    ids = attribute_rows(keyed).drop(DESCRIBING)
    described = _described_rows(keyed).select("seq", *DESCRIBING)
    # the descriptive fields of the rows that decide them; ids and video ids from every row
    return reduce_attribute_rows(ids.join(described, on="seq", how="left"))


def rejects_frame(parsed: pl.LazyFrame, day: pl.Expr) -> pl.LazyFrame:
    """Rejected lines in file order, with their reason and the raw text; keyless lines without it.

    Keyless lines are most of a real day (73% of the public GoonHilly sample: events of apps that send
    no tracking id, which the original only counted): their text stays in the log, at `file` and
    `line_number`, instead of a second copy of most of the day in memory and in the lake."""
    reason = pl.col("reject_reason")
    return (
        parsed.filter(reason.is_not_null())
        .sort("seq")
        .select(
            day.alias("date"),
            "file",
            pl.col("line_number").cast(pl.Int64),
            reason.alias("reason"),
            pl.when(reason != KEYLESS_REASON).then(pl.col("line")).alias("line"),
        )
    )


# --- per stream ------------------------------------------------------------------------------------

DESCRIPTIVE = ("source", "component", "client_id", "user_agent", "title", "session_id", "video_length")
QOE_EXTRA = ("program", "producer", "device_id")


#: Event types the per-stream walk looks at, coded 2.. by `_code` (0: bad event, 1: other good event).
_TYPES = (
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
_SEEK = 16  # `_code` flag: x_after_seek
_AUTO = 32  # `_code` flag: x_auto


def _millis(delta: pl.Expr) -> pl.Expr:
    """Durations are summed as integer milliseconds (exact, order-independent), then shown in s."""
    return delta.dt.total_milliseconds()


def _code() -> pl.Expr:
    """Event type, bad, after_seek and auto in one byte: the sort moves one small column, not four."""
    code = pl.lit(1, pl.UInt8)
    for number, name in enumerate(_TYPES, start=2):
        code = pl.when(pl.col("event_type") == name).then(pl.lit(number, pl.UInt8)).otherwise(code)
    code = pl.when(pl.col("bad").not_()).then(code).otherwise(pl.lit(0, pl.UInt8))
    flags = pl.col("after_seek").cast(pl.UInt8) * _SEEK + pl.col("auto").cast(pl.UInt8) * _AUTO
    return (code + flags).alias("_code")


def _is(*types: str) -> pl.Expr:
    """A good event of one of `types`."""
    return (pl.col("_code") % 16).is_in([2 + _TYPES.index(name) for name in types])


def _flag(flag: int) -> pl.Expr:
    return (pl.col("_code") & flag) > 0


def _tally(counts: dict[str, pl.Expr], bits: int) -> tuple[list[pl.Expr], list[pl.Expr], list[pl.Expr]]:
    """Counts of flags as `bits`-wide fields of a few u64: a group-by pays per aggregated column, and one
    sum counts several flags. Returns the row columns, their sums, and the counts from the sums."""
    names = list(counts)
    per_column = 64 // bits
    rows, sums, fields = [], [], []
    for start in range(0, len(names), per_column):
        tally = f"_tally{start}{names[start]}"
        chunk = names[start : start + per_column]
        rows.append(
            sum(counts[n].cast(pl.UInt64) * (1 << (bits * i)) for i, n in enumerate(chunk)).alias(tally)
        )
        sums.append(pl.col(tally).sum())
        fields += [
            (pl.col(tally) // (1 << (bits * i)) % (1 << bits)).cast(pl.UInt32).alias(n)
            for i, n in enumerate(chunk)
        ]
    return rows, sums, fields


def local_streams(events: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """`events_frame` rows with `stream`, the row of their key in the returned keys, in place of the key
    (as the native scanner gives them)."""
    keys = events["key"].unique(maintain_order=True)
    return events.select(_rows_of(events["key"], keys).alias("stream"), pl.exclude("key")), keys


def number_streams(events: pl.DataFrame, keys: pl.Series, attributes: pl.DataFrame) -> pl.DataFrame:
    """Events whose `stream` is a row of `keys` (keys may repeat: blocks numbered their own streams) ->
    `stream` as the row of `attributes` (`stream_attributes` of the same streams)."""
    rows = _rows_of(keys, attributes["key"])
    return events.with_columns(rows.gather(events["stream"]).alias("stream"))


def _rows_of(keys: pl.Series, reference: pl.Series) -> pl.Series:
    """Each key's row in `reference` (distinct keys). A join, not a Categorical cast: Categorical keys
    would stay in polars' process-wide string pool (measured: 131 MB per million streams, never freed)."""
    table = reference.to_frame("key").with_row_index("_row")
    rows = keys.to_frame("key").join(table, on="key", how="left", nulls_equal=True, maintain_order="left")
    if rows["_row"].null_count():
        raise ValueError(f"{rows['_row'].null_count()} stream key(s) missing from the reference keys")
    return rows["_row"]


def _walk_order(events: pl.DataFrame) -> pl.DataFrame:
    """The events as `_id` (their stream), `ts`, `_code`, `location`, `_pos` (row in `events`), sorted by
    stream, time, then delivery: one gather of the rows in `_walk_positions` order."""
    positions = _walk_positions(events)
    walk = events.select(pl.col("stream").alias("_id"), "ts", _code(), "location")[positions]
    return walk.with_columns(positions.alias("_pos"))


def _walk_positions(events: pl.DataFrame) -> pl.Series:
    """Rows of `events` by stream, time, then delivery (`seq`). Stream and time usually fit one u64, and
    often the delivery rank too, whose sort is much cheaper than a multi-column one."""
    ids, ts = events["stream"], events["ts"].to_physical()
    low, high, n = ts.min(), ts.max(), events.height
    ts_bits = int(high - low).bit_length() if ts.null_count() == 0 else 64
    key_bits, row_bits = int(ids.max()).bit_length() + ts_bits, n.bit_length()
    in_order = events["seq"].is_sorted()  # else the blocks came out of order (spilled buckets)

    def stream_time() -> pl.Expr:
        return pl.col("stream").cast(pl.UInt64) * (1 << ts_bits) + (pl.col("ts").to_physical() - low).cast(
            pl.UInt64
        )

    if key_bits + row_bits <= 64:
        rank = pl.int_range(pl.len(), dtype=pl.UInt64)
        if not in_order:
            rank = pl.col("seq").rank("ordinal").cast(pl.UInt64) - 1
        packed = events.select(stream_time() * (1 << row_bits) + rank).to_series().sort()
        # the rank from the low bits by a mask: no u64 division (measured 10 ms per million rows)
        ranks = (packed & ((1 << row_bits) - 1)).cast(pl.UInt32)
        return ranks if in_order else events["seq"].arg_sort().gather(ranks).cast(pl.UInt32)
    if key_bits <= 64 and in_order:  # a stable sort keeps the delivery order of equal times
        keyed = events.select(stream_time().alias("_key")).with_row_index("_pos")
        return keyed.sort("_key", maintain_order=True)["_pos"]
    return events.select("stream", "ts", "seq").with_row_index("_pos").sort("stream", "ts", "seq")["_pos"]


_Stages = list[list[pl.Expr]]  # with_columns steps that finish a per-stream frame


def _per_stream(walk: pl.LazyFrame, bits: int) -> tuple[pl.LazyFrame, _Stages]:
    """Aggregates over all of a stream's events; `_row`: position in `walk` (time order)."""
    good = pl.col("_code") % 16 > 0
    counts = {
        "buffer_start_events": _is(BUFFER_START),
        "auto_bitrate_events": _is(QUALITY_AUTO),
        "user_bitrate_events": _is(QUALITY_USER),
        "seek_count": _is(SCRUB),
    }
    rows, sums, fields = _tally(counts, bits)
    frame = (
        walk.with_columns(
            pl.when(good).then(pl.int_range(pl.len(), dtype=pl.UInt32)).alias("_row"),
            pl.when(good).then(pl.col("location")).alias("_max_location"),
            *rows,
        )
        .group_by("_id")
        .agg(
            pl.col("_row").min().alias("_first_good"),
            pl.col("_row").max().alias("_last_good"),
            pl.col("_max_location").max(),
            *sums,
        )
    )
    return frame, [fields]


def _intervals(walk: pl.LazyFrame, bits: int, buffering: pl.Series) -> tuple[pl.LazyFrame, _Stages]:
    """Playing and watch time by the original's walk over a stream's starts and ends: the first start
    after an end opens an interval, the next end closes it; ends with no open interval are ignored. A
    trailing open interval is dropped (playing) or closed at the stream's last event (watch). Also the
    other aggregates of these events and of MediaInitialBufferEnd (fewer rows than the whole stream)."""
    ts = pl.col("ts")
    walks = {"_play": _is(ENDED, COMPLETED), "_watch": _is(ENDED, COMPLETED, FAILED)}

    def last_is_start(w: str) -> pl.Expr:
        closing = pl.col(f"{w}_end") | pl.col("_first")
        return pl.when("_open").then(1).when(closing).then(0).forward_fill()

    marks = (
        walk.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"))
        .filter(_is(STARTED, INITIAL_START, INITIAL_END, ENDED, COMPLETED, FAILED))
        .with_columns(
            _is(STARTED, INITIAL_START).alias("_open"),
            (pl.col("_id") != pl.col("_id").shift(1)).fill_null(True).alias("_first"),
            (pl.col("_id") != pl.col("_id").shift(-1)).fill_null(True).alias("_last"),
            *[end.alias(f"{w}_end") for w, end in walks.items()],
        )
        # `_k`: is the last start or end so far a start (a stream begins closed); `_pk`: before the row
        .with_columns(last_is_start(w).alias(f"{w}_k") for w in walks)
        .with_columns(
            pl.when("_first").then(0).otherwise(pl.col(f"{w}_k").shift(1)).alias(f"{w}_pk") for w in walks
        )
        # `_o`: when the open interval opened
        .with_columns(
            pl.when(pl.col("_open") & (pl.col(f"{w}_pk") == 0)).then(ts).forward_fill().alias(f"{w}_o")
            for w in walks
        )
    )
    counts = {
        "_ended": _is(ENDED, COMPLETED),
        "_started_event": _is(STARTED),
        "finished_playback": _is(COMPLETED),
    }
    rows, sums, fields = _tally(counts, bits)
    initial_end = _is(INITIAL_END)

    def of(mask: pl.Expr, column: str) -> pl.Expr:
        return pl.when(mask).then(pl.col(column))

    closed = [
        pl.when(pl.col(f"{w}_end") & (pl.col(f"{w}_pk") == 1))
        .then(_millis(ts - pl.col(f"{w}_o")))
        .alias(f"{w}_ms")
        for w in walks
    ]
    frame = (
        marks.with_columns(
            *closed,
            pl.when(pl.col("_last") & (pl.col("_watch_k") == 1))
            .then(pl.col("_watch_o"))
            .alias("_watch_open"),
            of(_is(STARTED), "location").alias("position_earliest_play"),
            of(_is(ENDED, COMPLETED), "location").alias("position_latest_play"),
            pl.lit(buffering).gather(of(initial_end, "_pos")).fill_null(0).alias("initial_buffering_length"),
            of(_is(INITIAL_END, STARTED), "_row").alias("_first_frame"),
            of(_is(INITIAL_START), "_row").alias("_first_request"),
            of(initial_end, "_row").alias("_initial_end"),
            of(_is(FAILED), "_row").alias("_failure"),
            *rows,
        )
        .group_by("_id")
        .agg(
            pl.col("_play_ms", "_watch_ms", "initial_buffering_length").sum(),
            pl.col("_watch_open", "position_latest_play").max(),
            pl.col("position_earliest_play", "_first_frame", "_first_request", "_initial_end").min(),
            pl.col("_failure").min().alias("_first_failure"),
            pl.col("_failure").max().alias("_last_failure"),
            *sums,
        )
    )
    return frame, [fields, [(pl.col(c) > 0).alias(c) for c in counts]]


def _pairs(walk: pl.LazyFrame, bits: int, after_seek: bool) -> tuple[pl.LazyFrame, _Stages]:
    """Buffering Start/End pairs of one kind (rebuffer or seek stall), with the original's validity rules:
    a second Start before an End, an End without a Start, a playhead move between them or an End before
    its Start make the stream's buffering_length unknown (None)."""
    prefix = "_sk_" if after_seek else "_rb_"
    ts, previous_ts = pl.col("ts"), pl.col("ts").shift(1)
    start = _is(BUFFER_START)
    end = ~start
    after_start = ((pl.col("_id").shift(1) == pl.col("_id")) & start.shift(1)).fill_null(False)
    paired = end & after_start
    moved = ~pl.col("location").eq_missing(pl.col("location").shift(1)) | (ts < previous_ts).fill_null(False)
    duration = pl.when(paired & (ts >= previous_ts)).then(_millis(ts - previous_ts))
    counts = {
        f"{prefix}starts": start,
        f"{prefix}ends": end,
        f"{prefix}pairs": duration.is_not_null(),
        f"{prefix}broken": (end & (~paired | moved)) | (start & after_start),
        f"{prefix}auto": end & _flag(_AUTO),
    }
    rows, sums, fields = _tally(counts, bits)
    total, pairs = pl.col(f"{prefix}duration"), pl.col(f"{prefix}pairs")
    frame = (
        walk.filter(_is(BUFFER_START, BUFFER_END) & (_flag(_SEEK) == after_seek))
        .with_columns(duration.alias(f"{prefix}duration"), *rows)
        .group_by("_id")
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


def _spread(frame: pl.DataFrame, size: int) -> pl.DataFrame:
    """Per-stream rows as `size` rows in `_id` order (nulls for streams that are not there)."""
    rows = pl.int_range(frame.height, dtype=pl.UInt32, eager=True)
    at = pl.Series([None], dtype=pl.UInt32).extend_constant(None, size - 1).scatter(frame["_id"], rows)
    return frame.drop("_id")[at]


def session_stats(events: pl.DataFrame, attributes: pl.DataFrame) -> pl.DataFrame:
    """One row per stream with the original's output columns (same names and meaning, defects fixed)
    and the QoE metrics of QOE.md, in the order of `attributes` (their `stream_attributes`).
    `events`: `events_frame` rows of whole streams, any order, `stream` their row of `attributes`
    (`number_streams`)."""
    if events.height == 0:
        return empty_sessions()
    # every per-stream result comes out in stream order, lined up with the attributes
    walk = _walk_order(events)
    bits = events.height.bit_length()
    lazy = walk.lazy()
    parts = [
        _per_stream(lazy, bits),
        _intervals(lazy, bits, events["buffering_ms"]),
        _pairs(lazy, bits, after_seek=False),
        _pairs(lazy, bits, after_seek=True),
    ]
    frames = pl.collect_all([frame for frame, _ in parts])
    spread = []
    for (_, stages), frame in zip(parts, frames, strict=True):
        for stage in stages:
            frame = frame.with_columns(stage)
        spread.append(_spread(frame, attributes.height))
    stats = pl.concat([*spread, attributes], how="horizontal")
    if frames[0].height < attributes.height:  # attributes of streams without events
        present = pl.Series([False]).extend_constant(False, attributes.height - 1)
        stats = stats.filter(present.scatter(frames[0]["_id"], True))
    ts, position = pl.lit(walk["ts"]), pl.lit(walk["_pos"])

    def at(row: str) -> pl.Expr:
        return ts.gather(pl.col(row)).alias(row)

    def original(column: str, row: str) -> pl.Expr:
        return pl.lit(events[column]).gather(position.gather(pl.col(row)))

    # lazily: the gathers and the output columns are computed in parallel
    firsts = ("_first_frame", "_first_request", "_initial_end", "_first_failure", "_last_failure")
    watch_ms = pl.col("_watch_ms") + _millis(pl.col("latest_time") - pl.col("_watch_open")).fill_null(0)
    stats = (
        stats.lazy()
        .with_columns(
            at("_first_good").alias("earliest_time"),
            at("_last_good").alias("latest_time"),
            original("event_type", "_first_good").cast(pl.String).alias("first_event_type"),
            original("event_type", "_last_good").cast(pl.String).alias("last_event_type"),
            original("buffering_ms", "_initial_end").alias("_startup_client_ms"),
            *[at(row) for row in firsts],
            pl.col("initial_buffering_length").fill_null(0),
            pl.col("_ended", "_started_event", "finished_playback").fill_null(False),
        )
        .with_columns((pl.col("_play_ms") / 1000.0).alias("_playing"), (watch_ms / 1000.0).alias("_watch"))
    )
    return stats.select(_session_columns()).collect()


def _session_columns() -> list[pl.Expr]:
    started = pl.col("_first_frame").is_not_null()
    failed = pl.col("_first_failure").is_not_null()
    startup_ms = pl.when(started).then(
        pl.col("_startup_client_ms")
        .cast(pl.Float64)
        .fill_null(
            (pl.col("_initial_end") - pl.col("_first_request")).dt.total_milliseconds().cast(pl.Float64)
        )
    )
    rebuffer_s = pl.col("_rb_duration").fill_null(0.0)
    seek_s = pl.col("_sk_duration").fill_null(0.0)
    watch_s = pl.col("_watch").fill_null(0.0)
    video_length = pl.col("video_length").cast(pl.Float64, strict=False)
    percent = pl.min_horizontal(pl.col("_max_location") / video_length * 100.0, pl.lit(100.0))
    percent = pl.when(video_length > 0).then(percent)
    return [
        "key",
        "tracking_id",
        "media_id",
        "earliest_time",
        "latest_time",
        pl.when(pl.col("_ended"))
        .then(False)
        .when(pl.col("_started_event"))
        .then(True)
        .otherwise(None)
        .alias("incomplete_stream"),
        "finished_playback",
        "first_event_type",
        "last_event_type",
        pl.col("buffer_start_events").cast(pl.Int64),
        pl.when(pl.col("_playing") > 0).then(pl.col("_playing")).alias("playing_duration"),
        "source",
        "component",
        pl.col("_rb_auto").fill_null(False).alias("auto_bitrate"),
        "client_id",
        "user_agent",
        "title",
        "session_id",
        "video_length",
        "position_earliest_play",
        "position_latest_play",
        pl.col("_rb_ends").fill_null(0).cast(pl.Int64).alias("buffering_events"),
        pl.when(~pl.col("_rb_broken").fill_null(False) & (pl.col("_rb_pairs") > 0))
        .then(pl.col("_rb_duration"))
        .alias("buffering_length"),
        pl.col("initial_buffering_length").cast(pl.Int64),
        pl.col("auto_bitrate_events").cast(pl.Int64),
        pl.col("user_bitrate_events").cast(pl.Int64),
        *[pl.lit(None, dtype=dtype).alias(c) for c, dtype in GEO_SCHEMA.items()],
        "media_id_mismatch",
        pl.col("program").alias("program_title"),
        "producer",
        pl.col("device_id").alias("x_client_id"),
        # QoE (QOE.md)
        started.alias("started"),
        startup_ms.alias("startup_time_ms"),
        (failed & (~started | (pl.col("_first_failure") < pl.col("_first_frame")))).alias(
            "video_start_failure"
        ),
        (~started & ~failed).alias("exit_before_video_start"),
        (started & (pl.col("_last_failure") >= pl.col("_first_frame")).fill_null(False)).alias(
            "playback_failure"
        ),
        pl.col("_rb_starts").fill_null(0).cast(pl.Int64).alias("rebuffer_count"),
        rebuffer_s.alias("rebuffer_duration"),
        pl.col("seek_count").cast(pl.Int64),
        pl.col("_sk_mean").alias("seek_latency"),
        watch_s.alias("watch_time"),
        pl.max_horizontal(
            watch_s - rebuffer_s - seek_s - (startup_ms.fill_null(0.0) / 1000.0), pl.lit(0.0)
        ).alias("playing_time"),
        (pl.col("finished_playback") | (percent >= COMPLETION_THRESHOLD).fill_null(False)).alias("completed"),
        percent.alias("completion_percent"),
    ]


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


_PARSED_SCHEMA = {"line_number": pl.Int64, "seq": pl.Int64, "ts": pl.Datetime("ms")}


def parsed_sessions(parsed: pl.DataFrame) -> pl.DataFrame:
    """`session_stats` of one parsed frame holding whole streams (tests, small inputs)."""
    attributes = stream_attributes(attributes_frame(parsed.lazy()).collect())
    events, keys = local_streams(events_frame(parsed.lazy()).collect())
    return session_stats(number_streams(events, keys, attributes), attributes)


def empty_sessions() -> pl.DataFrame:
    """The output schema for a day without events, derived from one synthetic line."""
    row: dict = {c: None for c in (*EVENT_COLUMNS, "line")}
    row.update(seq=0, tracking_id="probe", tpmid="1", event_type=STARTED)
    probe = pl.DataFrame([row], schema={c: _PARSED_SCHEMA.get(c, pl.String) for c in row})
    return parsed_sessions(probe).clear()


# --- per video and day -----------------------------------------------------------------------------


def video_daily_stats(sessions: pl.DataFrame) -> pl.DataFrame:
    """Per video (`x_tpmid`) and day: Mux/Conviva-style aggregates, ratios of sums, percentiles of
    startup over started views. Failure/EBVS/completion percentages use all views as denominator."""
    watch = pl.col("watch_time").sum()

    def percent(flag: str) -> pl.Expr:
        return pl.col(flag).cast(pl.Float64).mean() * 100.0

    return (
        sessions.group_by("date", pl.col("media_id").alias("x_tpmid"))
        .agg(
            pl.col("program_title").first(ignore_nulls=True),
            pl.col("producer").first(ignore_nulls=True),
            pl.col("title").first(ignore_nulls=True),
            pl.len().alias("views"),
            pl.col("x_client_id").n_unique().alias("unique_clients"),
            pl.col("startup_time_ms").median().alias("startup_time_median_ms"),
            pl.col("startup_time_ms").quantile(0.95, interpolation="linear").alias("startup_time_p95_ms"),
            pl.when(watch > 0)
            .then(pl.col("rebuffer_duration").sum() / watch * 100.0)
            .alias("rebuffer_percentage"),
            pl.when(watch > 0)
            .then(pl.col("rebuffer_count").sum() / (watch / 60.0))
            .alias("rebuffer_frequency_per_minute"),
            percent("video_start_failure").alias("video_start_failure_percentage"),
            percent("exit_before_video_start").alias("exits_before_video_start_percentage"),
            percent("playback_failure").alias("playback_failure_percentage"),
            percent("completed").alias("completion_percentage"),
            (watch / 3600.0).alias("watch_hours"),
            (pl.col("playing_time").sum() / 3600.0).alias("playing_hours"),
        )
        .sort("date", "x_tpmid")
    )
