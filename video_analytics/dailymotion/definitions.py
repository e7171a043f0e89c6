"""DailyMotion's contribution to the platform: assets, sensors, resource, storage choice."""

from __future__ import annotations

import os

import dagster as dg

from video_analytics.dailymotion import assets, earnings
from video_analytics.dailymotion.resources import DailyMotionResource
from video_analytics.settings import Settings
from video_analytics.storage.targets import io_manager_for, storage_kind, with_storage_kind

URL_SETTINGS = {
    "base_url": "DM_BASE_URL",
    "auth_url": "DM_AUTH_URL",
    "graphql_url": "DM_GRAPH_URL",
    "rest_url": "DM_REST_URL",
}


def resource(settings: Settings, **overrides) -> DailyMotionResource:
    """Credentials stay EnvVars (never in run config or logs); URLs come from the seed's variables."""
    urls = {field: os.environ[env] for field, env in URL_SETTINGS.items() if os.environ.get(env)}
    return DailyMotionResource(
        client_id=dg.EnvVar("DM_CLIENT_API"),
        client_secret=dg.EnvVar("DM_CLIENT_SECRET"),
        **urls,
        **overrides,
    )


def io_manager(settings: Settings) -> dg.ConfigurableIOManager:
    """The shared Parquet lake, or BigQuery (VIDEO_ANALYTICS_STORAGE[_DAILYMOTION]=bigquery[+parquet])."""
    return io_manager_for(settings, "dailymotion")


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=with_storage_kind(
            [*assets.assets, *earnings.assets], storage_kind(settings, "dailymotion"), skip={assets.REQUESTS}
        ),
        asset_checks=assets.asset_checks,
        sensors=[*assets.sensors, *earnings.sensors],
        resources={"dailymotion": resource(settings), assets.IO_MANAGER_KEY: io_manager(settings)},
    )
