"""Brightcove's contribution to the platform: assets, schedule, resource, demo steps."""

from __future__ import annotations

import dagster as dg

from video_analytics.brightcove import assets
from video_analytics.brightcove.resources import build_resources
from video_analytics.demo_steps import DemoStep
from video_analytics.settings import Settings
from video_analytics.storage.targets import storage_kind, with_storage_kind

DEMO_STEPS = (
    DemoStep("Brightcove CMS catalogue", ("cms_videos",), partitioned=False),
    DemoStep("Brightcove daily analytics", ("recently_viewed_videos", "daily_video_metrics"), True),
)


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=with_storage_kind(assets.assets, storage_kind(settings, "brightcove")),
        schedules=assets.schedules,
        resources=build_resources(settings),
    )
