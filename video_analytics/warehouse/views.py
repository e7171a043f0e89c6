"""The warehouse's SQL views: written once, in BigQuery's dialect, in ``sql/*.sql`` next to this file.

BigQuery gets them as written, with bare table names qualified as ``project.dataset.table``; the
DuckDB warehouse gets sqlglot's translation (the transpiler BigQuery emulators use). There is no
hand-kept twin: a view added to a ``.sql`` file here appears in both warehouses.

A view is built only when every table it reads exists in that warehouse (a DuckDB lake without TMDB
tables, or a BigQuery dataset holding only DailyMotion's), so one source's absence never breaks
another's views. Files are read in name order and views in file order; a view may read an earlier one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp

SQL_FOLDER = Path(__file__).parent / "sql"
SOURCE_DIALECT = "bigquery"


class ViewSqlError(ValueError):
    """A ``.sql`` file of the warehouse holds something other than ``CREATE OR REPLACE VIEW``s."""


@dataclass(frozen=True)
class View:
    name: str
    file: str
    statement: exp.Create
    reads: frozenset[str]  # tables and views it selects from (CTE names excluded)


def _reads(statement: exp.Create) -> frozenset[str]:
    ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
    return frozenset(t.name for t in statement.find_all(exp.Table) if t.name not in ctes) - {
        statement.this.name
    }


def parse_views(sql: str, file: str = "<sql>") -> list[View]:
    """Every statement of ``sql`` must be a ``CREATE [OR REPLACE] VIEW``; anything else is refused."""
    views = []
    for statement in sqlglot.parse(sql, read=SOURCE_DIALECT):
        if statement is None:
            continue
        if not isinstance(statement, exp.Create) or statement.kind != "VIEW":
            raise ViewSqlError(
                f"{file}: only CREATE OR REPLACE VIEW statements belong here, found:\n{statement}"
            )
        views.append(View(statement.this.name, file, statement, _reads(statement)))
    return views


@cache
def registered_views(folder: Path = SQL_FOLDER) -> tuple[View, ...]:
    """All views of the ``.sql`` files in ``folder`` (``video_analytics/warehouse/sql``)."""
    views = [v for path in sorted(folder.glob("*.sql")) for v in parse_views(path.read_text(), path.name)]
    names = [v.name for v in views]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ViewSqlError(f"views defined twice in {folder}: {', '.join(duplicates)}")
    return tuple(views)


def buildable(views: Iterable[View], tables: Iterable[str]) -> tuple[list[View], list[View]]:
    """(views to build in order, views skipped) given the tables present in a warehouse."""
    present = set(tables)
    built, skipped = [], []
    for view in views:
        if view.reads <= present:
            built.append(view)
            present.add(view.name)
        else:
            skipped.append(view)
    return built, skipped


def duckdb_sql(view: View) -> str:
    return view.statement.sql(dialect="duckdb")


def bigquery_sql(view: View, project: str, dataset: str) -> str:
    """The view as BigQuery runs it, every table (and the view itself) as `project.dataset.name`."""
    ctes = {cte.alias_or_name for cte in view.statement.find_all(exp.CTE)}

    def qualify(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.name not in ctes and not node.args.get("db"):
            node.set("db", exp.to_identifier(dataset, quoted=True))
            node.set("catalog", exp.to_identifier(project, quoted=True))
        return node

    return view.statement.copy().transform(qualify).sql(dialect="bigquery")


def view_names(views: Sequence[View]) -> list[str]:
    return [v.name for v in views]
