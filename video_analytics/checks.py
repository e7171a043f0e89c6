"""Asset-check results shared by several sources."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,  # not exported by dagster 1.13; stable serdes record
)
from dagster_shared.record import replace

from video_analytics.partitions import daily_partitions, partition_days

if TYPE_CHECKING:  # polars is imported where frames are made: this module loads with the definitions
    import polars as pl


def references_check(
    check_name: str,
    frame: pl.DataFrame,
    key: str | Sequence[str],
    known: pl.Series | pl.DataFrame,
    description: str,
) -> dg.AssetCheckResult:
    """Warn when keys of `frame` are missing from `known` (a dimension's keys, same column names).

    A warning, not a failure: facts usually arrive before the next refresh of their dimension, and
    dropping them would lose data; the examples tell the user which keys to look for.
    """
    import polars as pl

    columns = [key] if isinstance(key, str) else list(key)
    known_keys = known.to_frame(columns[0]) if isinstance(known, pl.Series) else known.select(columns)
    missing = frame.select(columns).unique().join(known_keys.unique(), on=columns, how="anti").sort(columns)
    examples = ", ".join(":".join(str(value) for value in row) for row in missing.head(10).iter_rows())
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=missing.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={f"missing_{columns[-1]}s": missing.height, "examples": examples},
    )


def unique_check(
    check_name: str, frame: pl.DataFrame, key: str | Sequence[str], asset_key: str | None = None
) -> dg.AssetCheckResult:
    """Fail when rows of `frame` repeat `key`: a re-run must replace a partition, never duplicate it."""
    columns = [key] if isinstance(key, str) else list(key)
    duplicates = frame.height - frame.select(columns).n_unique() if frame.height else 0
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=duplicates == 0,
        metadata={"duplicate_rows": duplicates},
        **({"asset_key": asset_key} if asset_key else {}),
    )


def within_check(
    check_name: str,
    frame: pl.DataFrame,
    column: str,
    low: float,
    high: float,
    *,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN,
    asset_key: str | None = None,
) -> dg.AssetCheckResult:
    """Flag rows whose `column` lies outside [low, high] (nulls pass: "not reported" is not "wrong")."""
    import polars as pl

    rows = frame.filter(~pl.col(column).is_between(low, high)).height if frame.height else 0
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=rows == 0,
        severity=severity,
        metadata={"rows": rows},
        **({"asset_key": asset_key} if asset_key else {}),
    )


# --- Checks per day ------------------------------------------------------------------------------
#
# A single-run backfill computes many days in one step, but Dagster 1.13's `AssetCheckResult` has no
# partition: in a range run its result is stored against no day and against whichever materialization
# was latest when it was reported. So assets with daily checks declare them with the daily
# `partitions_def` and report one `AssetCheckEvaluation` per day, *after* yielding their outputs, each
# pointing at that day's materialization from this run. A failed day then marks that day only, and a
# re-run of the day that passes turns it green again.


def day_results(day: str, results: Iterable[dg.AssetCheckResult]) -> list[tuple[str, dg.AssetCheckResult]]:
    """Tag each check result with the day (partition key) it judges."""
    return [(day, result) for result in results]


def evaluations_after_materialization(
    context: dg.AssetExecutionContext, results: Iterable[tuple[str, dg.AssetCheckResult]]
) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    """Report per-day check results against the materializations this run has just recorded.

    Yield this *after* the asset outputs: by then each day's materialization is in the event log, so
    every evaluation names its own day and its own materialization (Dagster shows a check as current
    only when it targets the latest materialization of that day). Checks not selected for this run are
    left out; a selected check without a result for some day shows as skipped on that day.
    """
    assets_def = context.assets_def
    selected = set(context.selected_asset_check_keys)
    resolved = [(day, _check_key(assets_def, result), result) for day, result in results]
    for key in sorted({key for _, key, _ in resolved if key in selected}, key=str):
        yield dg.Output(None, output_name=assets_def.get_output_name_for_asset_check_key(key))
    wanted = [(day, key, result) for day, key, result in resolved if key in selected]
    days_of_asset: dict[dg.AssetKey, set[str]] = {}
    for day, key, _ in wanted:
        days_of_asset.setdefault(key.asset_key, set()).add(day)
    targets = {
        (asset_key, day): target
        for asset_key, days in days_of_asset.items()
        for day, target in _this_runs_materializations(context, asset_key, sorted(days)).items()
    }
    for day, key, result in wanted:
        yield dg.AssetCheckEvaluation(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=result.passed,
            metadata=result.metadata,
            target_materialization_data=targets[key.asset_key, day],
            severity=result.severity,
            description=result.description,
            blocking=assets_def.get_spec_for_check_key(key).blocking,
            partition=day,
        )


def _check_key(assets_def: dg.AssetsDefinition, result: dg.AssetCheckResult) -> dg.AssetCheckKey:
    asset_key = result.asset_key or assets_def.key
    if result.check_name is None:
        raise ValueError(f"a per-day check result on {asset_key.to_user_string()} needs a check_name")
    return dg.AssetCheckKey(asset_key, result.check_name)


def _this_runs_materializations(
    context: dg.AssetExecutionContext, asset_key: dg.AssetKey, days: list[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData | None]:
    """Each day's newest materialization of `asset_key` if this run recorded it, else None.

    One query serves every day in the usual case: this run wrote its days last, so the newest
    `len(days)` records of those days are one per day. A day missing from them (another run wrote
    some days since) is looked up on its own.
    """
    newest = _newest_materializations(context, asset_key, days, limit=len(days))
    for day in days:
        if day not in newest:
            newest.update(_newest_materializations(context, asset_key, [day], limit=1))
    found: dict[str, AssetCheckEvaluationTargetMaterializationData | None] = {}
    for day in days:
        record = newest.get(day)
        if record is None or record.event_log_entry.run_id != context.run_id:
            context.log.warning(
                f"{asset_key.to_user_string()} {day}: no materialization in this run to check"
            )
            found[day] = None
            continue
        found[day] = AssetCheckEvaluationTargetMaterializationData(
            storage_id=record.storage_id, run_id=record.event_log_entry.run_id, timestamp=record.timestamp
        )
    return found


def _newest_materializations(
    context: dg.AssetExecutionContext, asset_key: dg.AssetKey, days: list[str], limit: int
) -> dict[str, dg.EventLogRecord]:
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=days), limit=limit
    ).records
    newest: dict[str, dg.EventLogRecord] = {}
    for record in records:  # newest first
        newest.setdefault(record.partition_key, record)
    return newest


def daily_check_spec(
    name: str, asset: str, *, blocking: bool = False, description: str | None = None
) -> dg.AssetCheckSpec:
    """A check judged per day: its results (see `evaluations_after_materialization`) mark days, not the
    whole asset. `build_definitions` moves it onto the deployment's start date with its asset."""
    with warnings.catch_warnings():  # "partitions_def on an AssetCheckSpec" is a preview in 1.13
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name, asset=asset, blocking=blocking, description=description, partitions_def=daily_partitions()
        )


def per_day(specs: Iterable[dg.AssetCheckSpec]) -> list[dg.AssetCheckSpec]:
    """The same checks, declared on the daily partitions: results then mark days, not the asset."""
    with warnings.catch_warnings():  # "partitions_def on an AssetCheckSpec" is a preview in 1.13
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return [replace(spec, partitions_def=daily_partitions()) for spec in specs]


def checks_per_day(
    context: dg.AssetExecutionContext, check_day: Callable[[date], Iterable[dg.AssetCheckResult]]
) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    """Run `check_day` for every day of the run and report each day's results against that day's
    materialization. Yield from it after the asset's outputs."""
    checked = [(day.isoformat(), result) for day in partition_days(context) for result in check_day(day)]
    yield from evaluations_after_materialization(context, checked)


def _day_of(frame: pl.DataFrame, column: str) -> pl.Expr:
    """The day of the partition column (a Date, a Datetime or an ISO string), as a Date."""
    import polars as pl

    dtype = frame.schema[column]
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return pl.col(column).cast(pl.Date)
    return pl.col(column).cast(pl.String).str.slice(0, 10).str.to_date("%Y-%m-%d")


def rows_of_day(frame: pl.DataFrame, column: str, day: date) -> pl.DataFrame:
    """The rows of `frame` whose partition column (a Date, a Datetime or an ISO string) falls on `day`."""
    return frame.filter(_day_of(frame, column) == day)


def rows_by_day(frame: pl.DataFrame, column: str) -> Callable[[date], pl.DataFrame]:
    """`rows_of_day` for every day of a multi-day frame, split in one pass: filtering the whole frame
    once per day would make a backfill's checks cost days x rows."""
    days = frame.with_columns(_day_of(frame, column).alias("__day"))
    groups = {
        key[0]: rows for key, rows in days.partition_by("__day", as_dict=True, include_key=False).items()
    }
    empty = frame.clear()
    return lambda day: groups.get(day, empty)
