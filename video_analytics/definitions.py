"""The one place that turns settings into Dagster Definitions: every source's assets plus resources."""

from __future__ import annotations

import os

import dagster as dg

from video_analytics.brightcove import assets as brightcove
from video_analytics.brightcove.resources import BrightcoveResource
from video_analytics.settings import Settings, SettingsError
from video_analytics.storage.parquet import ParquetLakeIOManager


def io_manager(settings: Settings) -> dg.ConfigurableIOManager:
    if settings.storage != "parquet":
        raise SettingsError(
            f"VIDEO_ANALYTICS_STORAGE={settings.storage} is not available for these assets yet; use parquet"
        )
    return ParquetLakeIOManager(root=settings.lake_root)


def brightcove_resource(settings: Settings) -> BrightcoveResource:
    """Credentials stay EnvVars (never in run config or logs); endpoints may point at the sandbox."""
    urls = {
        field: os.environ[env]
        for field, env in (
            ("oauth_url", "BRIGHTCOVE_OAUTH_URL"),
            ("cms_url", "BRIGHTCOVE_CMS_URL"),
            ("analytics_url", "BRIGHTCOVE_ANALYTICS_URL"),
        )
        if os.environ.get(env)
    }
    return BrightcoveResource(
        client_id=dg.EnvVar("BRIGHTCOVE_CLIENT_ID"),
        client_secret=dg.EnvVar("BRIGHTCOVE_CLIENT_SECRET"),
        accounts=settings.brightcove_accounts,
        **urls,
    )


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    return dg.Definitions(
        assets=[*brightcove.assets],
        schedules=[*brightcove.schedules],
        resources={
            "io_manager": io_manager(settings),
            "brightcove": brightcove_resource(settings),
        },
    )


defs = build_definitions()
