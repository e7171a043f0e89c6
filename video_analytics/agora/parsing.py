"""Stage 1 of Agora: player-log lines -> one parsed row per line, and the rejected lines.

In: a frame of lines (`line`, `file`, `line_number`, `seq`: the line's place in the day's delivery
order). Out (`parse_lines`): one row per line with the logger's fields as text (`EVENT_COLUMNS`) and a
`reject_reason`, null for a valid event; `rejects_frame` lists the rejected lines for `agora_rejects`.

Why a stage of its own: the logger writes two formats (key=value text and, behind fluentd, flat JSON)
in many shapes, and reading them exactly once, vectorised, is where most of a day's CPU goes. Lines in
the logger's usual shape take cheap per-key readers (`_parse_usual_text`, `_parse_json` with
`plain=True`); the rest take general readers that give the same answer on the usual shape. The native
scanner (`linescan`) reads the usual shapes the same way and hands the other lines to `parse_lines`.

Where we deliberately differ from the original (pbs/agora-proc, see docs/sources/agora.md):

* timestamps keep their milliseconds (the original dropped them); logs are taken as UTC (the original
  left server-local time, with a TODO to convert);
* an empty quoted value (`k=""`) is an empty value, it does not swallow the next pair;
* empty ids count as missing (the original only checked that the key exists).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import polars as pl

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

#: Which reader parses a line (`_reader` column), in the order their rows are stacked.
USUAL_TEXT, OTHER_TEXT, OTHER_JSON, PLAIN_JSON = range(4)


def _null_if_empty(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.str.len_bytes() > 0).then(expr)


def _first_non_null(values: list[pl.Expr]) -> pl.Expr:
    return values[0] if len(values) == 1 else pl.coalesce(values)


# --- text lines: `YYYY-MM-DD HH:MM:SS,mmm - host [LEVEL] key=value key="quoted value" ...` -----------


def _key_value_tokens(line: pl.Expr) -> pl.Expr:
    """All `key=value` pairs of the keys we read, in one left-to-right regex pass per line.

    Values are `"quoted"` (may be empty, may hold spaces) or bare (up to the next space). Tokenising
    left to right, like the original, means a quoted value of one of these keys is consumed whole, so
    ` key=` text inside it is not mistaken for a pair.
    """
    keys = "|".join(sorted(TEXT_KEYS, key=len, reverse=True))
    return line.str.extract_all(rf' (?:{keys})=(?:"[^"]*"|\S*)')


def _token_value(tokens: pl.Expr, key: str) -> pl.Expr:
    """The value of `key` among the tokens (the last one wins, as in the original's dict); one pair
    of surrounding quotes stripped; empty is null."""
    prefix = f" {key}="
    token = tokens.list.eval(pl.element().filter(pl.element().str.starts_with(prefix))).list.last()
    return _null_if_empty(token.str.slice(len(prefix)).str.strip_prefix('"').str.strip_suffix('"'))


def _any_timestamp(text: pl.Expr) -> pl.Expr:
    """`YYYY-MM-DD HH:MM:SS[,mmm]` (or ISO `T`, `.mmm`, `Z`) -> Datetime(ms); null if unparsable."""
    seconds = text.str.slice(0, 19).str.replace("T", " ", literal=True)
    base = seconds.str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="ms", strict=False)
    has_ms = text.str.slice(19, 1).is_in([",", "."])
    millis = text.str.slice(20, 3).str.pad_end(3, "0").cast(pl.Int64, strict=False)
    return base + pl.duration(milliseconds=pl.when(has_ms).then(millis).otherwise(0).fill_null(0))


def _parse_other_text(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Text lines of any shape: every field from one tokenisation of the line; any timestamp shape."""
    line = pl.col("line")
    payload_start = line.str.find("] ", literal=True)  # the payload starts after the first "] "
    fields = [
        _first_non_null([_token_value(pl.col("_key_value_tokens"), key) for key in keys]).alias(name)
        for name, keys in TEXT_FIELDS.items()
    ]
    return (
        lines.with_columns(
            _any_timestamp(line).alias("ts"),
            payload_start.alias("_payload_start"),
            _key_value_tokens(line).alias("_key_value_tokens"),
        )
        .with_columns(fields)
        .drop("_key_value_tokens")
        .with_columns(
            pl.when(line.str.len_bytes() == 0)
            .then(pl.lit("blank"))
            .when(pl.col("ts").is_null())
            .then(pl.lit("bad_timestamp"))
            .when(pl.col("_payload_start").is_null())
            .then(pl.lit("no_payload"))
            .alias("_unparsable_reason")
        )
        .drop("_payload_start")
    )


def _key_value_pattern(key: str) -> str:
    return rf' {re.escape(key)}=(?:"[^"]*"|\S*)'


def text_value(line: pl.Expr, key: str) -> pl.Expr:
    """The value of one key of a text line without tokenising the whole line: a regex for this key
    alone (a literal-prefixed search without capture groups, then `list.last`, instead of the all-keys
    tokeniser plus a `list.eval` per field). Equal to the tokeniser on lines where no quoted value
    holds a ` key=` text (`_KEY_IN_QUOTES`); the others take the tokeniser."""
    prefix = f" {key}="
    token = line.str.extract_all(_key_value_pattern(key)).list.last()
    return _null_if_empty(token.str.slice(len(prefix)).str.strip_prefix('"').str.strip_suffix('"'))


#: A quoted value containing ` key=` of a key we read: the per-key search could see a pair there.
_KEY_IN_QUOTES = '="[^"]* (?:' + "|".join(re.escape(k) for k in TEXT_KEYS) + ")="
_LOGGER_STAMP = "%Y-%m-%d %H:%M:%S,%3f"


def _logger_timestamp(line: pl.Expr) -> pl.Expr:
    """The logger's own `YYYY-MM-DD HH:MM:SS,mmm` with one exact format (null otherwise: those lines
    take `_any_timestamp`, which also reads `T`, `.`, `Z` and fewer digits)."""
    return line.str.slice(0, 23).str.strptime(pl.Datetime("ms"), _LOGGER_STAMP, strict=False)


def _usual_text_fields(names) -> list[pl.Expr]:
    line = pl.col("line")
    return [
        _first_non_null([text_value(line, key) for key in TEXT_FIELDS[name]]).alias(name) for name in names
    ]


def _not_read(names) -> list[pl.Expr]:
    return [pl.lit(None, pl.String).alias(n) for n in names]


def _parse_usual_text(lines: pl.LazyFrame, describe: bool) -> pl.LazyFrame:
    """Text lines in the logger's usual shape (`_logger_timestamp` already read): a regex per key."""
    no_payload = pl.col("line").str.find("] ", literal=True).is_null()
    described = _usual_text_fields(DESCRIBING) if describe else _not_read(DESCRIBING)
    return lines.with_columns(
        *_usual_text_fields(CORE_FIELDS),
        *described,
        pl.when(no_payload).then(pl.lit("no_payload")).alias("_unparsable_reason"),
        pl.lit(describe).alias("_descriptive_read"),
    ).rename({"_logger_ts": "ts"})


# --- JSON lines (fluentd): `{"time":"…","path":"/log/<source>/…","x_tracking_id":"…",…}` ------------


def json_value(line: pl.Expr, key: str) -> pl.Expr:
    """The value of a top-level key of a JSON line, any JSON (parses the line); empty is null."""
    return _null_if_empty(line.str.json_path_match(f"$.{key}"))


#: A flat JSON object of plain strings, compact, as fluentd writes it: no escapes, no nesting, no other
#: value types, no raw control characters (those are invalid JSON). In such a line `"` only delimits
#: strings, so `"key":"` can only start a pair, and a regex per key reads what `json_path_match` reads.
_PLAIN = r'[^"\\\x00-\x1f]*'
_PLAIN_JSON = rf'^\{{"{_PLAIN}":"{_PLAIN}"(?:,"{_PLAIN}":"{_PLAIN}")*\}}$'


def _plain_json_value(line: pl.Expr, key: str) -> pl.Expr:
    """`json_value` of a `_PLAIN_JSON` line without parsing it: its last `"key":"…"` pair (a JSON path
    reads the last of repeated keys). `json_path_match` parses the whole line for every key: measured
    about 10x slower."""
    prefix = f'"{key}":"'
    pair = line.str.extract_all(re.escape(prefix) + '[^"]*"').list.last()
    return _null_if_empty(pair.str.slice(len(prefix)).str.strip_suffix('"'))


def _json_fields(names, value: Callable[[pl.Expr, str], pl.Expr] = json_value) -> list[pl.Expr]:
    """JSON fields by name; `source` from the fluentd path (`/log/<source>/...`), else `source_tag`."""
    line = pl.col("line")
    fields = {name: _first_non_null([value(line, key) for key in JSON_FIELDS[name]]) for name in names}
    if "source" in fields:
        path = value(line, "path")
        fields["source"] = _null_if_empty(path.str.split("/").list.get(2, null_on_oob=True)).fill_null(
            fields["source"]
        )
    return [field.alias(name) for name, field in fields.items()]


def _parse_json(lines: pl.LazyFrame, describe: bool = True, plain: bool = False) -> pl.LazyFrame:
    """JSON lines; `plain`: every line is `_PLAIN_JSON` (valid, read by a regex per key)."""
    line = pl.col("line")
    value = _plain_json_value if plain else json_value
    time_text = _plain_json_value(line, "time") if plain else line.str.json_path_match("$.time")
    epoch = time_text.cast(pl.Float64, strict=False)
    invalid = pl.lit(False) if plain else line.str.json_path_match("$").is_null()
    return lines.with_columns(
        pl.when(epoch.is_not_null())
        .then(pl.from_epoch((epoch * 1000).cast(pl.Int64), time_unit="ms"))
        .otherwise(_any_timestamp(time_text))
        .alias("ts"),
        *_json_fields(CORE_FIELDS, value),
        *(_json_fields(DESCRIBING, value) if describe else _not_read(DESCRIBING)),
        pl.lit(describe).alias("_descriptive_read"),
    ).with_columns(
        pl.when(invalid)
        .then(pl.lit("invalid_json"))
        .when(pl.col("ts").is_null())
        .then(pl.lit("bad_timestamp"))
        .alias("_unparsable_reason"),
    )


# --- every line ------------------------------------------------------------------------------------


def parse_lines(lines: pl.LazyFrame, describe: bool = True) -> pl.LazyFrame:
    """Lines (`line`, `file`, `line_number`, `seq`) -> one row per line with the parsed fields and a
    `reject_reason` (null for a valid event). Text and fluentd JSON lines may be mixed freely.

    `describe=False` leaves the descriptive fields of usual-shape text and JSON lines null
    (`_descriptive_read` false): `stream_events.attributes_frame` reads them only from the few lines
    it needs (a stream's first line, mostly), so 7 of the 18 keys are read per line (measured 2.3x
    faster than `describe=True`).

    Text lines in the logger's usual shape (exact timestamp, no `key=` text inside quoted values) take
    the per-key readers; the rest the general tokeniser, which gives the same answer on the usual
    shape."""
    line = pl.col("line")
    is_json = line.str.starts_with("{")
    usual_text = ~is_json & pl.col("_logger_ts").is_not_null() & ~line.str.contains(_KEY_IN_QUOTES)
    plain_json = is_json & line.str.contains(_PLAIN_JSON)
    classified = lines.with_columns(_logger_timestamp(line).alias("_logger_ts")).with_columns(
        pl.when(plain_json)
        .then(PLAIN_JSON)
        .when(is_json)
        .then(OTHER_JSON)
        .when(usual_text)
        .then(USUAL_TEXT)
        .otherwise(OTHER_TEXT)
        .cast(pl.Int8)
        .alias("_reader")
    )
    reader = pl.col("_reader")

    def read_by(number: int) -> pl.LazyFrame:
        return classified.filter(reader == number).drop("_reader", "_logger_ts")

    parsed = pl.concat(
        [
            _parse_usual_text(classified.filter(reader == USUAL_TEXT).drop("_reader"), describe),
            _parse_other_text(read_by(OTHER_TEXT)).with_columns(pl.lit(True).alias("_descriptive_read")),
            _parse_json(read_by(OTHER_JSON), describe),
            _parse_json(read_by(PLAIN_JSON), describe, plain=True),
        ],
        how="diagonal_relaxed",
    )
    buffering_ms = pl.col("buffering_raw").str.strip_chars().cast(pl.Int64, strict=False)
    reason = (
        pl.when(pl.col("_unparsable_reason").is_not_null())
        .then(pl.col("_unparsable_reason"))
        .when(pl.col("tracking_id").is_null() | pl.col("tpmid").is_null())
        .then(pl.lit(KEYLESS_REASON))
        .when(pl.col("buffering_raw").is_not_null() & (buffering_ms.is_null() | (buffering_ms < 0)))
        .then(pl.lit(BAD_DATA_REASON))
    )
    extra = [] if describe else ["_descriptive_read"]
    return parsed.with_columns(reason.alias("reject_reason")).select(*EVENT_COLUMNS, "line", *extra)


def read_descriptive_fields(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Fill the descriptive fields of rows parsed with `describe=False` (usual-shape text or JSON; rows
    with `_descriptive_read` true are kept as they are): `stream_events` reads them only on the rows
    that decide a stream's attributes.

    Each kind of line is read by its own reader on its own rows (a when/then would run every reader on
    every row, and the general JSON one parses the line once per field)."""
    line = pl.col("line")
    is_json = line.str.starts_with("{")
    reader = (
        pl.when(pl.col("_descriptive_read"))
        .then(0)
        .when(is_json & line.str.contains(_PLAIN_JSON))
        .then(1)
        .when(is_json)
        .then(2)
        .otherwise(3)
    )
    readers = [  # by the `_reader` number above
        [],  # already read (by `_parse_other_text`, or `describe=True`)
        _json_fields(DESCRIBING, _plain_json_value),
        _json_fields(DESCRIBING),
        _usual_text_fields(DESCRIBING),
    ]
    rows = rows.with_columns(reader.alias("_reader"))
    return pl.concat(
        [
            rows.filter(pl.col("_reader") == number).with_columns(fields)
            for number, fields in enumerate(readers)
        ]
    ).drop("_reader")


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
