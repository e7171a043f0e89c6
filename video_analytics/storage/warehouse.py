"""A DuckDB "warehouse" of views over the Parquet lake: SQL without copying data.

Each lake table (a folder holding Parquet files) becomes one view; nested asset paths ``a/b`` become
``a__b``. The views only store SQL, so the DuckDB file stays tiny and always reflects the lake's
current files; rebuilding is cheap and idempotent.

S3 lakes: DuckDB's own ``httpfs`` extension cannot be downloaded in offline deployments, so ``s3://``
paths are served by s3fs through ``DuckDBPyConnection.register_filesystem``. That registration lives
only as long as a connection, so views over an S3 lake can be queried only through
:func:`connect_warehouse` / :func:`run_sql` (which re-register it); a plain ``duckdb.connect`` on the
file fails with "Failed to download extension httpfs" when a view is read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import duckdb
import fsspec
import polars as pl

from video_analytics.storage.parquet import resolve_storage_options
from video_analytics.unified.views import create_unified_views

#: Marks views this module owns, so a rebuild can drop views whose table folder vanished.
VIEW_MARKER = "video_analytics lake view"
_META_TABLE = "_video_analytics_lake"


def _is_remote(root: str) -> bool:
    return "://" in root and not root.startswith("file://")


def _normalise_root(root: str) -> str:
    return root.rstrip("/") if _is_remote(root) else os.path.abspath(root.removeprefix("file://"))


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def discover_tables(
    lake_root: str, storage_options: Mapping[str, str] | None = None
) -> dict[str, tuple[str, bool]]:
    """Map view name -> (table folder relative to the root, partitioned?) for every lake table."""
    fs, base = fsspec.core.url_to_fs(lake_root, **resolve_storage_options(lake_root, storage_options))
    if not fs.exists(base):
        return {}
    tables: dict[str, tuple[str, bool]] = {}
    for path in fs.find(base):
        parts = path[len(base.rstrip("/")) + 1 :].split("/")
        if not parts[-1].endswith(".parquet") or parts[-1].startswith("."):
            continue
        folders = parts[:-1]
        partitioned = bool(folders) and folders[-1].startswith("date=")
        table = folders[:-1] if partitioned else folders
        if table:
            name = "__".join(table)
            tables[name] = ("/".join(table), partitioned or tables.get(name, ("", False))[1])
    return tables


def _view_sql(root: str, name: str, folder: str, partitioned: bool) -> str:
    # `date=*/` (not `**/`) so a nested asset a/b is not swallowed by the view of asset a.
    pattern = f"{root}/{folder}/" + ("date=*/*.parquet" if partitioned else "*.parquet")
    return (
        f"CREATE OR REPLACE VIEW {_quote_ident(name)} AS SELECT * FROM read_parquet("
        f"{_quote_str(pattern)}, union_by_name = true, hive_partitioning = false)"
    )


def _managed_views(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal AND comment = ?", [VIEW_MARKER]
    ).fetchall()
    return {row[0] for row in rows}


def connect_warehouse(
    db_path: str,
    lake_root: str | None = None,
    storage_options: Mapping[str, str] | None = None,
    read_only: bool = False,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse and make ``s3://`` readable via s3fs (see module docstring).

    Without ``lake_root`` the root recorded by the last :func:`build_warehouse` is used; credentials
    and endpoints then come from ``storage_options`` or the usual AWS environment variables.
    """
    if not read_only:
        os.makedirs(os.path.dirname(os.path.abspath(db_path)), exist_ok=True)
    con = duckdb.connect(db_path, read_only=read_only)
    root = lake_root or _recorded_root(con)
    if root and _is_remote(root):
        fs, _ = fsspec.core.url_to_fs(root, **resolve_storage_options(root, storage_options))
        con.register_filesystem(fs)
    return con


def _recorded_root(con: duckdb.DuckDBPyConnection) -> str | None:
    # fetchall(), not fetchone(): DuckDB 2 refuses new work while a result is left half-read.
    found = con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [_META_TABLE]).fetchall()
    rows = con.execute(f"SELECT lake_root FROM {_META_TABLE}").fetchall() if found else []
    return rows[0][0] if rows else None


def build_warehouse(
    lake_root: str,
    db_path: str,
    storage_options: Mapping[str, str] | None = None,
    extra_sql: Sequence[str] = (),
) -> dict[str, int]:
    """(Re)create one view per lake table, drop views of vanished tables, then run ``extra_sql``
    (source-specific views built on the table views). Returns row counts per table view."""
    root = _normalise_root(lake_root)
    tables = discover_tables(root, storage_options)
    con = connect_warehouse(db_path, root, storage_options)
    try:
        for stale in _managed_views(con) - tables.keys():
            con.execute(f"DROP VIEW IF EXISTS {_quote_ident(stale)}")
        for name, (folder, partitioned) in sorted(tables.items()):
            con.execute(_view_sql(root, name, folder, partitioned))
            con.execute(f"COMMENT ON VIEW {_quote_ident(name)} IS {_quote_str(VIEW_MARKER)}")
        con.execute(f"CREATE OR REPLACE TABLE {_META_TABLE} AS SELECT ? AS lake_root", [root])
        for statement in extra_sql:
            con.execute(statement)
        create_unified_views(con)
        return {name: _count(con, name) for name in sorted(tables)}
    finally:
        con.close()


def _count(con: duckdb.DuckDBPyConnection, view: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {_quote_ident(view)}").fetchall()[0][0])


def run_sql(
    db_path: str, sql: str, lake_root: str | None = None, storage_options: Mapping[str, str] | None = None
) -> pl.DataFrame:
    """Run one query read-only (so it never races a rebuild's writes) and return a polars frame."""
    con = connect_warehouse(db_path, lake_root, storage_options, read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()
