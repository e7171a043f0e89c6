"""Wistia's contribution to the platform: assets, schedule, resource, storage choice."""

from __future__ import annotations

import os

import dagster as dg

from video_analytics.settings import Settings, env_number
from video_analytics.storage.parquet import ParquetLakeIOManager
from video_analytics.storage.targets import storage_kind, with_storage_kind
from video_analytics.wistia import assets
from video_analytics.wistia.resources import WistiaResource

IO_MANAGER_KEY = assets.IO_MANAGER
DEFAULT_REDSHIFT_SCHEMA = "wistia"


def resource() -> WistiaResource:
    """The token stays an EnvVar (never in run config or logs); URL and pace may point at the sandbox."""
    options: dict[str, object] = {}
    if os.environ.get("WISTIA_BASE_URL"):
        options["base_url"] = os.environ["WISTIA_BASE_URL"]
    if (pace := env_number("WISTIA_REQUESTS_PER_MINUTE")) is not None:
        options["requests_per_minute"] = pace
    return WistiaResource(api_token=dg.EnvVar("WISTIA_API_TOKEN"), **options)


def io_manager(settings: Settings) -> dg.ConfigurableIOManager:
    """Native Redshift tables, the Glue-catalogued S3 lake, or the plain lake, in that order. The
    Redshift and Glue modules (dagster_aws, boto3: seconds of import) load only when configured."""
    if settings.storage_for("wistia")[0] == "redshift":
        from video_analytics.storage.redshift import redshift_io_manager_from_env

        return redshift_io_manager_from_env(os.environ.get("WISTIA_REDSHIFT_SCHEMA", DEFAULT_REDSHIFT_SCHEMA))
    database = os.environ.get("WISTIA_GLUE_DATABASE", "").strip()
    if settings.lake_root.startswith(("s3://", "s3a://")) and database:
        from video_analytics.storage.glue import GlueCatalogedParquetIOManager

        return GlueCatalogedParquetIOManager(
            root=settings.lake_root,
            database=database,
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL_GLUE") or os.environ.get("AWS_ENDPOINT_URL"),
        )
    return ParquetLakeIOManager(root=settings.lake_root)


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=with_storage_kind(assets.assets, storage_kind(settings, "wistia")),
        schedules=assets.schedules,
        resources={"wistia": resource(), IO_MANAGER_KEY: io_manager(settings)},
    )
