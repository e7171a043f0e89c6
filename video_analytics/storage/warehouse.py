"""A DuckDB "warehouse" of views over the Parquet lake: SQL without copying data.

Each lake table (a folder holding Parquet files) becomes one view; nested asset paths ``a/b`` become
``a__b``. The views only store SQL, so the DuckDB file stays tiny and always reflects the lake's
current files; rebuilding is cheap and idempotent.

Only committed files are read: the lake writer names them ``part-*.parquet`` and anything else in a
table folder (a ``.tmp-*.parquet`` left by a crash, even a 0-byte one) is ignored. Local lakes are
stored *relative* to the warehouse file (``lake_root`` in ``_video_analytics_lake``, ``"."`` when the
file sits in the lake) and resolved when a connection opens (DuckDB's ``file_search_path``), so a
copied or moved lake's warehouse reads the copy, not the original.

S3 lakes: DuckDB's own ``httpfs`` extension cannot be downloaded in offline deployments, so ``s3://``
paths are served by s3fs through ``DuckDBPyConnection.register_filesystem``. That registration lives
only as long as a connection, so views over an S3 lake can be queried only through
:func:`connect_warehouse` / :func:`run_sql` (which re-register it); a plain ``duckdb.connect`` on the
file fails with "Failed to download extension httpfs" when a view is read.
"""

from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Mapping, Sequence

import duckdb
import polars as pl

from video_analytics.storage.options import open_filesystem

#: Marks views this module owns, so a rebuild can drop views whose table folder vanished.
VIEW_MARKER = "video_analytics lake view"
_META_TABLE = "_video_analytics_lake"
LOCK_WAIT_SECONDS = 60.0
#: The lake writer's committed files (agreed convention); temp files never match.
COMMITTED_FILES = "part-*.parquet"


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
    fs, base = open_filesystem(lake_root, storage_options)
    if not fs.exists(base):
        return {}
    tables: dict[str, tuple[str, bool]] = {}
    for path in fs.find(base):
        parts = path[len(base.rstrip("/")) + 1 :].split("/")
        if not fnmatch.fnmatchcase(parts[-1], COMMITTED_FILES):
            continue
        folders = parts[:-1]
        partitioned = bool(folders) and folders[-1].startswith("date=")
        table = folders[:-1] if partitioned else folders
        if table:
            name = "__".join(table)
            tables[name] = ("/".join(table), partitioned or tables.get(name, ("", False))[1])
    return tables


def _view_sql(root: str, name: str, folder: str, partitioned: bool) -> str:
    """A local lake's pattern is relative (resolved through ``file_search_path``); S3's is absolute."""
    # `date=*/` (not `**/`) so a nested asset a/b is not swallowed by the view of asset a.
    prefix = f"{root}/" if _is_remote(root) else ""
    pattern = f"{prefix}{folder}/" + (f"date=*/{COMMITTED_FILES}" if partitioned else COMMITTED_FILES)
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
    con = _connect(db_path, read_only)
    root = _normalise_root(lake_root) if lake_root else _recorded_root(con, db_path)
    if root and _is_remote(root):
        fs, _ = open_filesystem(root, storage_options)
        con.register_filesystem(fs)
    elif root:
        con.execute(f"SET file_search_path = {_quote_str(root)}")
    return con


def _connect(
    db_path: str, read_only: bool, wait_seconds: float = LOCK_WAIT_SECONDS
) -> duckdb.DuckDBPyConnection:
    """DuckDB lets one process write a file (and none read it meanwhile): a rebuild takes about a
    second, so a query or a second rebuild waits for the lock instead of failing at once."""
    deadline = time.monotonic() + wait_seconds
    pause = 0.05
    while True:
        try:
            return duckdb.connect(db_path, read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def _stored_root(root: str, db_path: str) -> str:
    """What the warehouse records: a local lake relative to the warehouse file's folder."""
    if _is_remote(root):
        return root
    return os.path.relpath(root, os.path.dirname(os.path.abspath(db_path)))


def _recorded_root(con: duckdb.DuckDBPyConnection, db_path: str) -> str | None:
    """The lake root recorded by the last build, resolved against the warehouse file's folder."""
    rows = _recorded_rows(con)
    if not rows or _is_remote(rows[0][0]):
        return rows[0][0] if rows else None
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(db_path)), rows[0][0]))


def _recorded_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    # fetchall(), not fetchone(): DuckDB 2 refuses new work while a result is left half-read.
    found = con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [_META_TABLE]).fetchall()
    rows = con.execute(f"SELECT lake_root FROM {_META_TABLE}").fetchall() if found else []
    return rows


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
        con.execute(
            f"CREATE OR REPLACE TABLE {_META_TABLE} AS SELECT ? AS lake_root", [_stored_root(root, db_path)]
        )
        for statement in extra_sql:
            con.execute(statement)
        return {name: _count(con, name) for name in sorted(tables)}
    finally:
        con.close()


def table_view_counts(db_path: str) -> dict[str, int]:
    """Rows of every lake-table view of an existing warehouse."""
    con = connect_warehouse(db_path, read_only=True)
    try:
        return {name: _count(con, name) for name in sorted(_managed_views(con))}
    finally:
        con.close()


def _count(con: duckdb.DuckDBPyConnection, view: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {_quote_ident(view)}").fetchall()[0][0])


def run_sql(
    db_path: str, sql: str, lake_root: str | None = None, storage_options: Mapping[str, str] | None = None
) -> pl.DataFrame:
    """Run one query read-only (so it never races a rebuild's writes) and return a polars frame.

    A query DuckDB cannot parse is tried once more as BigQuery SQL translated by sqlglot, so the
    originals' queries (backticks, BigQuery functions) run unchanged once their `project.dataset.`
    prefix is dropped; if that fails too, DuckDB's own error is raised.
    """
    con = connect_warehouse(db_path, lake_root, storage_options, read_only=True)
    try:
        try:
            return con.sql(sql).pl()
        except duckdb.ParserException as duckdb_error:
            translated = _from_bigquery(sql)
            if translated is None:
                raise
            try:
                return con.sql(translated).pl()
            except duckdb.Error:
                raise duckdb_error from None
    finally:
        con.close()


def _from_bigquery(sql: str) -> str | None:
    import sqlglot

    try:
        statements = sqlglot.transpile(sql, read="bigquery", write="duckdb")
    except sqlglot.errors.SqlglotError:
        return None
    return ";\n".join(statements) if statements else None
