"""Asset-check results shared by several sources."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
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
    rows = frame.filter(~pl.col(column).is_between(low, high)).height if frame.height else 0
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=rows == 0,
        severity=severity,
        metadata={"rows": rows},
        **({"asset_key": asset_key} if asset_key else {}),
    )
