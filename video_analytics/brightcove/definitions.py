"""Brightcove's contribution to the platform: assets, schedule, resource."""

from __future__ import annotations

import dagster as dg

from video_analytics.brightcove import assets
from video_analytics.brightcove.resources import build_resources
from video_analytics.settings import Settings
from video_analytics.storage.targets import storage_kind, with_storage_kind


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=with_storage_kind(assets.assets, storage_kind(settings, "brightcove")),
        schedules=assets.schedules,
        resources=build_resources(settings),
    )
