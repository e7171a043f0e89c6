"""The cross-platform layer's contribution: assets and the resource."""

from __future__ import annotations

import os

import dagster as dg

from video_analytics.settings import Settings
from video_analytics.unified import assets
from video_analytics.unified.resources import MAPPING_SETTING, CrossPlatformResource


def resource(settings: Settings) -> CrossPlatformResource:
    return CrossPlatformResource(
        lake_root=settings.lake_root,
        video_mapping=os.environ.get(MAPPING_SETTING, ""),
        report_dir=os.environ.get("VIDEO_ANALYTICS_REPORT_DIR", ""),
    )


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=assets.assets, resources={"cross_platform": resource(settings)})
