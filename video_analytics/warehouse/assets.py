"""The warehouses as assets of the graph: DuckDB views over the lake, and views in BigQuery.

`duckdb_warehouse` (re)creates one view per lake table plus the views of `sql/*.sql` whose tables
exist; it sits downstream of every table and rebuilds itself when any of them lands (automation
condition), so `video-analytics sql` works after any materialization, from the UI, a schedule or the
demo. `bigquery_views` exists only when some source is stored in BigQuery and creates the same SQL
views there, over the tables of those sources.

Rebuilding is cheap (views only store SQL) and idempotent. Both sit in the `warehouse` pool; a second
rebuild, or a query, that meets a rebuild in progress waits for DuckDB's file lock
(`storage.warehouse._connect`).

DuckDB and sqlglot are imported when a build runs, not when the definitions load.
"""

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

if TYPE_CHECKING:
    from video_analytics.warehouse import views as sql_views

GROUP = "warehouse"
DUCKDB_WAREHOUSE = dg.AssetKey("duckdb_warehouse")
BIGQUERY_VIEWS = dg.AssetKey("bigquery_views")
POOL = "warehouse"

#: Rebuild once after any table lands (or when never built); never twice at once.
REBUILD_WHEN_TABLES_LAND = (
    dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()
).since_last_handled().with_label(
    "a table landed since the last build"
) & ~dg.AutomationCondition.in_progress()


class DuckDBWarehouse(dg.ConfigurableResource):
    """Where the DuckDB file lives and which lake it reads (from VIDEO_ANALYTICS_DATA_DIR)."""

    lake_root: str = Field(description="The Parquet lake: a folder or an s3:// URL.")
    path: str = Field(description="The DuckDB file holding the views.")


class BigQueryViewsTarget(dg.ConfigurableResource):
    """The BigQuery dataset the views go to: the one the BigQuery IO manager writes."""

    project: str
    dataset: str
    location: str | None = None
    gcp_credentials: str | None = None


def build_duckdb_warehouse(
    lake_root: str, path: str
) -> "tuple[dict[str, int], list[sql_views.View], list[sql_views.View]]":
    """(rows per table view, SQL views built, SQL views skipped): a view per lake table, then every
    SQL view whose tables exist; a SQL view whose tables vanished is dropped, not left broken."""
    from video_analytics.storage.warehouse import build_warehouse, discover_tables
    from video_analytics.warehouse import views as sql_views

    built, skipped = sql_views.buildable(sql_views.registered_views(), discover_tables(lake_root))
    drops = [f'DROP VIEW IF EXISTS "{v.name}"' for v in skipped]
    counts = build_warehouse(lake_root, path, extra_sql=[*drops, *(sql_views.duckdb_sql(v) for v in built)])
    return counts, built, skipped


def ensure_duckdb_warehouse(lake_root: str, path: str) -> str | None:
    """Build the warehouse if it does not exist yet (e.g. no daemon ran the asset); returns why it
    cannot be, or None when it is there."""
    from video_analytics.storage.warehouse import discover_tables

    if os.path.exists(path):
        return None
    if not discover_tables(lake_root):
        return (
            f"no warehouse at {path} and no tables in the lake {lake_root}: materialize some assets "
            "(UI, CLI or `video-analytics demo`); the duckdb_warehouse asset then builds the views"
        )
    build_duckdb_warehouse(lake_root, path)
    return None


def _view_names(views: "Sequence[sql_views.View]") -> dg.MetadataValue:
    return dg.MetadataValue.json([v.name for v in views])


def duckdb_warehouse_asset(tables: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=DUCKDB_WAREHOUSE,
        group_name=GROUP,
        kinds={"duckdb"},
        deps=list(tables),
        pool=POOL,
        automation_condition=REBUILD_WHEN_TABLES_LAND,
        description="DuckDB views over the Parquet lake: one per table, plus the SQL views of "
        "video_analytics/warehouse/sql (TMDB's analytics views and original table names, the "
        "cross-platform views). Rebuilt "
        "automatically when a table lands; `video-analytics sql` queries it.",
    )
    def duckdb_warehouse(context: dg.AssetExecutionContext, duckdb_warehouse: DuckDBWarehouse):
        counts, built, skipped = build_duckdb_warehouse(duckdb_warehouse.lake_root, duckdb_warehouse.path)
        if skipped:
            context.log.info(f"views waiting for their tables: {', '.join(v.name for v in skipped)}")
        return dg.MaterializeResult(
            metadata={
                "dagster/uri": dg.MetadataValue.text(f"duckdb://{duckdb_warehouse.path}"),
                "lake": dg.MetadataValue.text(duckdb_warehouse.lake_root),
                "table_views": dg.MetadataValue.int(len(counts)),
                "rows_per_table": dg.MetadataValue.json(counts),
                "sql_views": _view_names(built),
                "skipped_views": _view_names(skipped),
            }
        )

    return duckdb_warehouse


def bigquery_table_name(key: dg.AssetKey) -> str:
    """The BigQuery IO manager's table name for an asset (key parts joined by ``__``)."""
    return "__".join(key.path)


def bigquery_views_asset(tables: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=BIGQUERY_VIEWS,
        group_name=GROUP,
        kinds={"bigquery"},
        deps=list(tables),
        pool=POOL,
        automation_condition=REBUILD_WHEN_TABLES_LAND,
        description="The SQL views of video_analytics/warehouse/sql in the BigQuery dataset, over the "
        "tables stored there (TMDB: its analytics views and the original's table names).",
    )
    def bigquery_views(context: dg.AssetExecutionContext, bigquery_views_target: BigQueryViewsTarget):
        from video_analytics.storage.bigquery import open_client, run_statements
        from video_analytics.warehouse import views as sql_views

        target = bigquery_views_target
        built, skipped = sql_views.buildable(
            sql_views.registered_views(), {bigquery_table_name(key) for key in tables}
        )
        statements = [sql_views.bigquery_sql(v, target.project, target.dataset) for v in built]
        with open_client(target.project, target.location, target.gcp_credentials) as client:
            run_statements(client, statements)
        context.log.info(f"{len(built)} views in {target.project}.{target.dataset}")
        return dg.MaterializeResult(
            metadata={
                "dagster/uri": dg.MetadataValue.text(f"bigquery://{target.project}/{target.dataset}"),
                "sql_views": _view_names(built),
                "skipped_views": _view_names(skipped),
            }
        )

    return bigquery_views
