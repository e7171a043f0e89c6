"""A few rows of a table as Markdown, for asset metadata: the UI then shows data, not only counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only annotations: the frames come from the step that previews them
    import polars as pl

MAX_COLUMNS = 12
MAX_CELL = 40


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def markdown_preview(frame: pl.DataFrame, rows: int = 5) -> str:
    """The first `rows` rows (and at most MAX_COLUMNS columns) as a Markdown table."""
    if frame.height == 0:
        return "(no rows)"
    columns = frame.columns[:MAX_COLUMNS]
    head = frame.head(rows).select(columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in head.iter_rows()]
    if len(frame.columns) > MAX_COLUMNS:
        lines.append(f"\n{len(frame.columns) - MAX_COLUMNS} more columns not shown.")
    lines.append(f"\n{min(rows, frame.height)} of {frame.height:,} rows.")
    return "\n".join(lines)
