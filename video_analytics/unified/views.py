"""The cross-platform SQL views (one DuckDB view per file in `sql/`), created over the warehouse's
`video_daily_performance` view. Kept as plain `.sql` files so a warehouse that registers views from
files can take them as they are."""

from __future__ import annotations

from importlib import resources

import duckdb

BASE_VIEW = "video_daily_performance"


def view_sql() -> dict[str, str]:
    """View name (the file's stem) -> its CREATE OR REPLACE VIEW statement, in name order."""
    folder = resources.files("video_analytics.unified") / "sql"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return {f.name.removesuffix(".sql"): f.read_text(encoding="utf-8") for f in files}


def create_unified_views(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create the views when the conformed table is in the warehouse; otherwise drop them (a view
    over a missing table would fail every query that touches it). Returns the views created."""
    present = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND NOT internal", [BASE_VIEW]
    ).fetchall()[0][0]
    statements = view_sql()
    if not present:
        for name in statements:
            con.execute(f'DROP VIEW IF EXISTS "{name}"')
        return []
    for statement in statements.values():
        con.execute(statement)
    return list(statements)
