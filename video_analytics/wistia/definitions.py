"""Wistia's contribution to the platform: assets, schedule, resource, storage choice."""

from __future__ import annotations

import dagster as dg

from video_analytics.settings import Settings
from video_analytics.storage.targets import storage_kind, with_storage_kind
from video_analytics.wistia import assets
from video_analytics.wistia.resources import build_resources


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=with_storage_kind(assets.assets, storage_kind(settings, "wistia")),
        schedules=assets.schedules,
        resources=build_resources(settings),
    )
