"""The player's custom `x_*` fields, aggregated per stream: built-in ones and fields a user configures.

The logger sends custom fields the original parsed and then dropped (`x_stream_size`, `x_bandwidth`,
`x_encoding_name`, `x_flash_player`, `x_start_time`). The ones with a meaning today become columns
(`configuration.BUILT_IN`): the HLS rendition bitrate a stream played (`x_stream_size`, "1172, 391,
..." kbps), the bandwidth the player measured, the encoding. `x_flash_player` (Flash is gone) and
`x_start_time` (always 0 in the logs we know) are not aggregated; a user can add them, or any other
key, without code through `AGORA_CUSTOM_FIELDS`, a JSON list such as
`[{"key": "x_flash_player", "column": "flash_player", "aggregate": "first"}]`.

Cost: the native line scanner reads the fields' keys on the lines it turns into events, in the same
pass (the day is read once; a second pass over every line cost +60% of a day's CPU); the lines it hands
back are read by polars with the rest of their parse. Each block is reduced to one partial row per
stream at once, so what is kept across a day is about one row per stream, like the day's output.

Like the original's descriptive fields, values count from every keyed line of a stream (also the
events whose bad buffering length keeps them out of the walk); lines without a stream key or with an
unparsable timestamp do not count.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from video_analytics.agora import parsing
from video_analytics.agora.configuration import NUMERIC, CustomField

# --- per block: partial rows per stream -----------------------------------------------------------
#
# A partial row holds, per stream key, what the final reduction needs: sums and counts, least and
# greatest, distinct values, and first/last values with the line (`seq`) they came from, so partials may
# arrive in any order (the scanner's lines per block, the polars parser's lines in later batches).


def _keys(fields: Sequence[CustomField]) -> list[str]:
    return sorted({f.key for f in fields})


def _value(key: str) -> pl.Expr:
    return pl.col(f"_v_{key}")


def _partial_exprs(field: CustomField) -> list[pl.Expr]:
    """Per stream, over its rows in line order (`seq`)."""
    value, name = _value(field.key), field.column
    number = value.cast(pl.Float64, strict=False)
    match field.aggregate:
        case "first" | "last":
            pick = "first" if field.aggregate == "first" else "last"
            return [
                getattr(value.drop_nulls(), pick)().alias(name),
                getattr(pl.col("seq").filter(value.is_not_null()), pick)().alias(f"{name}__seq"),
            ]
        case "min":
            return [number.min().alias(name)]
        case "max":
            return [number.max().alias(name)]
        case "sum" | "mean":
            return [number.sum().alias(f"{name}__sum"), number.count().alias(f"{name}__n")]
        case _:  # distinct_count
            return [value.drop_nulls().unique().alias(name)]


def _final_exprs(field: CustomField) -> list[pl.Expr]:
    name = field.column
    order = pl.col(f"{name}__seq")
    match field.aggregate:
        case "first":
            return [pl.col(name).sort_by(order, nulls_last=True).first()]
        case "last":
            return [pl.col(name).sort_by(order, descending=True, nulls_last=True).first()]
        case "min":
            return [pl.col(name).min()]
        case "max":
            return [pl.col(name).max()]
        case "sum":
            total, count = pl.col(f"{name}__sum").sum(), pl.col(f"{name}__n").sum()
            return [pl.when(count > 0).then(total).alias(name)]
        case "mean":
            total, count = pl.col(f"{name}__sum").sum(), pl.col(f"{name}__n").sum()
            return [pl.when(count > 0).then(total / count).alias(name)]
        case _:
            values = pl.col(name).list.explode(keep_nulls=False, empty_as_null=False)
            return [values.n_unique().cast(pl.Int64)]


def _partials(rows: pl.DataFrame, fields: Sequence[CustomField]) -> pl.DataFrame:
    """Rows (`key`, `seq`, `_v_<key>`...) in line order -> one partial row per key."""
    return rows.group_by("key", maintain_order=True).agg(e for f in fields for e in _partial_exprs(f))


def _polars_values(keys: list[str]) -> list[pl.Expr]:
    """The values of `keys` on text or JSON lines (`line`), by the polars parser's readers."""
    line = pl.col("line")
    is_json = line.str.starts_with("{")
    return [
        pl.when(is_json)
        .then(parsing.json_value(line, key))
        .otherwise(parsing.text_value(line, key))
        .alias(f"_v_{key}")
        for key in keys
    ]


def keyed_partials(keyed: pl.DataFrame, fields: Sequence[CustomField]) -> pl.DataFrame | None:
    """Partials of lines the polars parser keyed (`stream_events.keyed_frame`: `key`, `seq`, `line`); only
    the lines that carry one of the keys are read."""
    if not fields or keyed.height == 0:
        return None
    keys = _keys(fields)
    markers = [f" {k}=" for k in keys] + [f'"{k}":' for k in keys]
    carrying = keyed.select("key", "seq", "line").filter(pl.col("line").str.contains_any(markers))
    if carrying.height == 0:
        return None
    return _partials(carrying.select("key", "seq", *_polars_values(keys)), fields)


def field_keys(fields: Sequence[CustomField]) -> tuple[str, ...]:
    """The log keys the native scanner reads for `fields` (each once, whatever its aggregates)."""
    return tuple(_keys(fields))


def scanned_partials(
    events: pl.DataFrame, keys: pl.Series, values: pl.DataFrame | None, fields: Sequence[CustomField]
) -> pl.DataFrame | None:
    """Partials of the lines the native scanner turned into events (`stream`: a row of `keys`, `seq`:
    the line within the block), from the values it read on them (`values`: `_v_<key>` per event, see
    `linescan.scan`); `seq` stays block-relative (`shift` places it in the day)."""
    if not fields or events.height == 0 or values is None:
        return None
    rows = pl.concat(
        [events.select(keys.gather(events["stream"]).alias("key"), "seq"), values], how="horizontal"
    )
    return _partials(rows, fields)


def shift(partial: pl.DataFrame | None, seq: int) -> pl.DataFrame | None:
    """A block's partials with their line numbers (`*__seq`) counted from the day's first line."""
    if partial is None:
        return None
    return partial.with_columns(pl.col(c) + seq for c in partial.columns if c.endswith("__seq"))


def _dtype(field: CustomField) -> pl.DataType:
    if field.aggregate in NUMERIC:
        return pl.Float64()
    return pl.Int64() if field.aggregate == "distinct_count" else pl.String()


def reduce(partials: list[pl.DataFrame], fields: Sequence[CustomField]) -> pl.DataFrame:
    """Partials of a day (in block order) -> one row per stream key with the output columns."""
    schema = {"key": pl.String(), **{f.column: _dtype(f) for f in fields}}
    if not partials:
        return pl.DataFrame(schema=schema)
    reduced = (
        pl.concat(partials, how="vertical")
        .group_by("key", maintain_order=True)
        .agg(expr for field in fields for expr in _final_exprs(field))
    )
    return reduced.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def attach(
    sessions: pl.DataFrame, partials: list[pl.DataFrame], fields: Sequence[CustomField]
) -> pl.DataFrame:
    """The streams with one column per custom field (null where a stream never sent the key)."""
    if not fields:
        return sessions
    per_stream = reduce(partials, fields)
    return sessions.join(per_stream, on="key", how="left", maintain_order="left")
