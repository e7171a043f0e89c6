"""`video-analytics sql`: a read-only door onto the DuckDB warehouse and nothing else.

Opening DuckDB with ``read_only=True`` only protects the database file's catalog: ``COPY ... TO``
still writes files (a lake partition, even ``warehouse.duckdb`` itself), ``read_csv('/etc/passwd')``
still reads any file, and ``EXPLAIN ANALYZE COPY ...`` runs the COPY. So the door has three locks:

1. Only queries get in: every statement must parse (DuckDB's own parser) as a ``SELECT`` (which
   includes ``SHOW``, ``DESCRIBE``, ``SUMMARIZE``, ``FROM t``, ``VALUES``), or ``EXPLAIN [ANALYZE]``
   of one. ``COPY``, ``ATTACH``, ``EXPORT``, ``INSTALL``/``LOAD``, ``SET``, ``PRAGMA``, ``CALL`` and
   ``PIVOT`` statements (parsed as several statements, one of which may be a ``COPY``) are refused.
2. Files outside the lake cannot be read: ``enable_external_access = false`` with the lake root as
   the only ``allowed_directories`` (works for a local lake and for an ``s3://`` lake served through
   the registered fsspec filesystem).
3. ``lock_configuration = true``, so no statement can switch 2 off again.

Every DuckDB error comes back as one line (:class:`SqlError`), so the CLI prints it and exits 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

import duckdb
import polars as pl

from video_analytics.storage.warehouse import _recorded_root, connect_warehouse

_EXPLAIN = re.compile(r"^\s*explain\s+(?:analy[sz]e\s+)?", re.IGNORECASE)
_QUERY = duckdb.StatementType.SELECT


class SqlError(ValueError):
    """A query the door refuses or DuckDB rejects, as one line a user can act on."""


def one_line(exc: BaseException) -> str:
    """DuckDB's message up to its ``LINE n:`` caret diagram, joined into one line."""
    lines = []
    for line in str(exc).splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines) or type(exc).__name__


def check_read_only(sql: str) -> None:
    """Raise :class:`SqlError` unless every statement of ``sql`` is a query (see module docstring)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlError(one_line(exc)) from None
    if not statements:
        raise SqlError("no SQL statement given")
    for statement in statements:
        if statement.type == duckdb.StatementType.EXPLAIN:
            explained = _EXPLAIN.sub("", statement.query, count=1)
            if explained == statement.query or explained.lstrip().startswith("("):
                _refuse("EXPLAIN with options")
            check_read_only(explained)
        elif statement.type != _QUERY:
            _refuse(statement.type.name.replace("_", " "))


def _refuse(kind: str) -> None:
    raise SqlError(
        f"`video-analytics sql` is read-only: {kind} statements are refused; run SELECT queries "
        "(SHOW, DESCRIBE, SUMMARIZE and EXPLAIN work too), and write files with `video-analytics export`"
    )


def _allowed_directory(root: str) -> str:
    """A lake root as DuckDB's ``allowed_directories`` wants it: absolute, with a trailing slash."""
    if "://" in root and not root.startswith("file://"):
        return root.rstrip("/") + "/"
    return os.path.abspath(root.removeprefix("file://")).rstrip("/") + "/"


def _relative_tables(root: str | None) -> list[str]:
    """The views of a local lake read ``table/date=*/...`` relative to the lake (DuckDB's
    ``file_search_path``), and DuckDB checks the path as written: allow each top-level table folder."""
    if not root or "://" in root or not os.path.isdir(root):
        return []
    return [f"{name}/" for name in sorted(os.listdir(root)) if os.path.isdir(os.path.join(root, name))]


def open_read_only(
    db_path: str, lake_roots: Iterable[str] = (), storage_options: Mapping[str, str] | None = None
) -> tuple[duckdb.DuckDBPyConnection, list[str]]:
    """Open the warehouse locked down to reading the lake; returns the connection and what it may read.

    The lake the warehouse's views were built over (recorded in the file) is always readable;
    ``lake_roots`` adds others (the configured lake, when the views are relative to it).
    """
    if not os.path.isfile(db_path):
        raise SqlError(f"no warehouse at {db_path}: run `video-analytics demo` first")
    try:
        con = connect_warehouse(db_path, None, storage_options, read_only=True)
    except duckdb.Error as exc:
        raise SqlError(f"{db_path}: {one_line(exc)}") from None
    try:
        recorded = _recorded_root(con, db_path)
        roots = sorted({_allowed_directory(r) for r in [*lake_roots, *([recorded] if recorded else [])]})
        allowed = [*roots, *_relative_tables(recorded)]
        con.execute("SET allowed_directories = ?", [allowed])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con, roots


def query(
    db_path: str,
    sql: str,
    lake_roots: Iterable[str] = (),
    storage_options: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Run ``sql`` through the read-only door; the result of its last statement as a polars frame."""
    check_read_only(sql)
    con, roots = open_read_only(db_path, lake_roots, storage_options)
    try:
        relation = con.sql(sql)
        return relation.pl() if relation is not None else pl.DataFrame()
    except duckdb.PermissionException as exc:
        raise SqlError(
            f"{one_line(exc)} (`video-analytics sql` reads only the lake: {', '.join(roots)})"
        ) from None
    except duckdb.Error as exc:
        raise SqlError(one_line(exc)) from None
    finally:
        con.close()
