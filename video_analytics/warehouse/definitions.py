"""The warehouses' contribution to the platform: the view assets and their resources."""

from __future__ import annotations

import os

import dagster as dg

from video_analytics.agora import assets as agora
from video_analytics.brightcove import assets as brightcove
from video_analytics.dailymotion import assets as dailymotion
from video_analytics.dailymotion import earnings as dailymotion_earnings
from video_analytics.settings import Settings
from video_analytics.storage.targets import BQ_CREDENTIALS, bigquery_io_manager
from video_analytics.tmdb import assets as tmdb
from video_analytics.unified import assets as unified
from video_analytics.warehouse.assets import (
    BigQueryViewsTarget,
    DuckDBWarehouse,
    bigquery_views_asset,
    duckdb_warehouse_asset,
)
from video_analytics.wistia import assets as wistia

#: Each source's assets, by the name `Settings.storage_for` knows it by.
SOURCE_ASSETS = {
    "brightcove": brightcove.assets,
    "dailymotion": [*dailymotion.assets, *dailymotion_earnings.assets],
    "wistia": wistia.assets,
    "tmdb": tmdb.assets,
    "agora": agora.assets,
    "unified": [unified.video_identity, unified.video_daily_performance],
}
#: Assets that store no table (DailyMotion's request ledger).
NOT_TABLES = {dailymotion.REQUESTS}


def table_keys(source: str) -> list[dg.AssetKey]:
    keys = [key for asset in SOURCE_ASSETS[source] for key in asset.keys]
    return [key for key in keys if key not in NOT_TABLES]


def _bigquery_target() -> BigQueryViewsTarget:
    manager = bigquery_io_manager()  # the same settings (and errors) as the tables'
    credentials = dg.EnvVar(BQ_CREDENTIALS) if os.environ.get(BQ_CREDENTIALS) else None
    return BigQueryViewsTarget(
        project=manager.project,
        dataset=manager.dataset,
        location=manager.location,
        gcp_credentials=credentials,
    )


def build(settings: Settings) -> dg.Definitions:
    """DuckDB over the lake, always; BigQuery views when a source's tables are stored there."""
    in_lake, in_bigquery = [], []
    for source in SOURCE_ASSETS:
        target, also_lake = settings.storage_for(source)
        (in_lake if target == "parquet" or also_lake else []).extend(table_keys(source))
        (in_bigquery if target == "bigquery" else []).extend(table_keys(source))
    assets = [duckdb_warehouse_asset(in_lake)]
    resources: dict[str, object] = {
        "duckdb_warehouse": DuckDBWarehouse(lake_root=settings.lake_root, path=settings.warehouse_path)
    }
    if in_bigquery:
        assets.append(bigquery_views_asset(in_bigquery))
        resources["bigquery_views_target"] = _bigquery_target()
    return dg.Definitions(assets=assets, resources=resources)
