"""What a deployment configures for Agora, without polars or fsspec: the Agora resource declares and
checks it when the definitions load (every process does), the reader and the engine use it in a step.

The custom fields (`AGORA_CUSTOM_FIELDS`: what they are and their checks; `custom_fields` computes
them) and the sizes a day is read and aggregated in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: Bytes of log text parsed at once (a 5 GB day is read 32 MB at a time; see `client`).
DEFAULT_BLOCK_BYTES = 32 * 1024 * 1024
#: Lines per aggregation bucket of a spilled day: the aggregation's transient memory grows with the
#: bucket (measured on a 10M-line day: peak 1.70 GB with 1.6M-line buckets, 1.32 GB with 400k).
DEFAULT_BUCKET_LINES = 400_000

SETTING = "AGORA_CUSTOM_FIELDS"
#: first/last: in delivery order (file, line); min/max/mean/sum: of the values read as numbers (a value
#: that is not a number counts as missing); distinct_count: distinct non-empty values.
AGGREGATES = ("first", "last", "min", "max", "mean", "sum", "distinct_count")
NUMERIC = ("min", "max", "mean", "sum")
_KEY = re.compile(r"^[A-Za-z_][\w-]*$")
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")


class CustomFieldError(ValueError):
    """A configured custom field is malformed (says which setting and entry to fix)."""


@dataclass(frozen=True)
class CustomField:
    key: str  # the log key, e.g. x_stream_size
    column: str  # the output column of agora_session_stats
    aggregate: str  # one of AGGREGATES


BUILT_IN = (
    CustomField("x_stream_size", "stream_bitrate_kbps_mean", "mean"),
    CustomField("x_stream_size", "stream_bitrate_kbps_max", "max"),
    CustomField("x_stream_size", "stream_bitrate_renditions", "distinct_count"),
    CustomField("x_encoding_name", "encoding_name", "first"),
    CustomField("x_bandwidth", "bandwidth_mean", "mean"),
    CustomField("x_bandwidth", "bandwidth_min", "min"),
)


def parse_setting(raw: str | None, reserved: Iterable[str] = ()) -> tuple[CustomField, ...]:
    """`AGORA_CUSTOM_FIELDS` (a JSON list of {key, column, aggregate}) -> the user's fields, validated.
    `reserved`: columns that already exist (the stream's own and the built-in fields)."""
    if not raw or not raw.strip():
        return ()
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CustomFieldError(f"{SETTING} is not valid JSON: {exc.msg}") from exc
    if not isinstance(entries, list):
        raise CustomFieldError(f"{SETTING} must be a JSON list of {{key, column, aggregate}} objects")
    return validate([_entry(i, e) for i, e in enumerate(entries)], reserved)


def _entry(index: int, entry: object) -> CustomField:
    where = f"{SETTING}[{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        raise CustomFieldError(f'{where} must be an object with a "key" (the log key, e.g. "x_player")')
    unknown = set(entry) - {"key", "column", "aggregate"}
    if unknown:
        raise CustomFieldError(
            f"{where}: unknown entries {sorted(unknown)} (allowed: key, column, aggregate)"
        )
    key = entry["key"]
    return CustomField(
        key, str(entry.get("column") or key.lower().replace("-", "_")), str(entry.get("aggregate", "first"))
    )


def validate(fields: Sequence[CustomField], reserved: Iterable[str] = ()) -> tuple[CustomField, ...]:
    taken = set(reserved)
    for index, field in enumerate(fields):
        where = f"{SETTING}[{index}]"
        if not _KEY.match(field.key):
            raise CustomFieldError(f"{where}: key {field.key!r} is not a log key (letters, digits, _ and -)")
        if field.aggregate not in AGGREGATES:
            raise CustomFieldError(
                f"{where}: aggregate {field.aggregate!r} is not one of {', '.join(AGGREGATES)}"
            )
        if not _COLUMN.match(field.column):
            raise CustomFieldError(
                f"{where}: column {field.column!r} must be lower-case letters, digits and _"
            )
        if field.column in taken:
            raise CustomFieldError(f"{where}: column {field.column!r} already exists; choose another name")
        taken.add(field.column)
    return tuple(fields)
