"""The cross-platform layer's contribution: assets and the resource."""

from __future__ import annotations

import dagster as dg

from video_analytics.settings import Settings
from video_analytics.unified import assets
from video_analytics.unified.resources import build_resources


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=assets.assets, resources=build_resources(settings))
