"""The warehouses the view assets write to: DuckDB over the lake, always; BigQuery when asked."""

from __future__ import annotations

from video_analytics.settings import Settings
from video_analytics.storage.targets import bigquery_credentials, bigquery_io_manager
from video_analytics.warehouse.assets import BigQueryViewsTarget, DuckDBWarehouse


def bigquery_views_target(settings: Settings) -> BigQueryViewsTarget:
    """The dataset the tables load into: the same settings (and errors) as their IO manager's."""
    manager = bigquery_io_manager(settings)
    return BigQueryViewsTarget(
        project=manager.project,
        dataset=manager.dataset,
        location=manager.location,
        gcp_credentials=bigquery_credentials(settings),
    )


def build_resources(settings: Settings, *, bigquery_views: bool) -> dict[str, object]:
    resources: dict[str, object] = {
        "duckdb_warehouse": DuckDBWarehouse(lake_root=settings.lake_root, path=settings.warehouse_path)
    }
    if bigquery_views:
        resources["bigquery_views_target"] = bigquery_views_target(settings)
    return resources
