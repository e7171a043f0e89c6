"""Brightcove's contribution to the platform: assets, schedule, resource."""

from __future__ import annotations

import os

import dagster as dg

from video_analytics.brightcove import assets
from video_analytics.brightcove.resources import BrightcoveResource
from video_analytics.settings import Settings
from video_analytics.storage.targets import storage_kind, with_storage_kind

URL_SETTINGS = {
    "oauth_url": "BRIGHTCOVE_OAUTH_URL",
    "cms_url": "BRIGHTCOVE_CMS_URL",
    "analytics_url": "BRIGHTCOVE_ANALYTICS_URL",
}


def resource(settings: Settings) -> BrightcoveResource:
    """Credentials stay EnvVars (never in run config or logs); endpoints may point at the sandbox."""
    urls = {field: os.environ[env] for field, env in URL_SETTINGS.items() if os.environ.get(env)}
    return BrightcoveResource(
        client_id=dg.EnvVar("BRIGHTCOVE_CLIENT_ID"),
        client_secret=dg.EnvVar("BRIGHTCOVE_CLIENT_SECRET"),
        accounts=settings.brightcove_accounts,
        **urls,
    )


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=with_storage_kind(assets.assets, storage_kind(settings, "brightcove")),
        schedules=assets.schedules,
        resources={"brightcove": resource(settings)},
    )
