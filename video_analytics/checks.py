"""Asset-check results shared by several sources."""

from __future__ import annotations

import dagster as dg
import polars as pl


def references_check(
    check_name: str, frame: pl.DataFrame, column: str, known: pl.Series, description: str
) -> dg.AssetCheckResult:
    """Warn when values of `frame[column]` are missing from `known` (a dimension's keys).

    A warning, not a failure: facts usually arrive before the next refresh of their dimension, and
    dropping them would lose data; the examples tell the user which keys to look for.
    """
    missing = frame.filter(~pl.col(column).is_in(known.implode()))[column].unique().sort()
    examples = ", ".join(missing.head(10).cast(pl.String))
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=missing.len() == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={f"missing_{column}s": missing.len(), "examples": examples},
    )
