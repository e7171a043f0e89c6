"""Wistia's contribution to the platform: assets, schedule, resource, storage choice, demo steps."""

from __future__ import annotations

import dagster as dg

from video_analytics.demo_steps import DemoStep
from video_analytics.settings import Settings
from video_analytics.storage.targets import storage_kind, with_storage_kind
from video_analytics.wistia import assets
from video_analytics.wistia.resources import build_resources

DEMO_STEPS = (
    DemoStep(
        "Wistia media catalogue", ("wistia_dim_media", "wistia_fact_engagement_graph"), partitioned=False
    ),
    DemoStep(
        "Wistia engagement and events",
        ("wistia_fact_engagements", "wistia_fact_engagements_byday", "wistia_fact_events"),
        partitioned=True,
    ),
    DemoStep("Wistia visitors", ("wistia_dim_visitors",), partitioned=False),
)


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=with_storage_kind(assets.assets, storage_kind(settings, "wistia")),
        schedules=assets.schedules,
        resources=build_resources(settings),
    )
