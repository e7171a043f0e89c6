"""DailyMotion's contribution to the platform: assets, sensors, resource, storage choice."""

from __future__ import annotations

import dagster as dg

from video_analytics.dailymotion import assets, earnings
from video_analytics.dailymotion.resources import build_resources
from video_analytics.policies import started_in_sandbox
from video_analytics.settings import Settings
from video_analytics.storage.targets import storage_kind, with_storage_kind


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=with_storage_kind(
            [*assets.assets, *earnings.assets], storage_kind(settings, "dailymotion"), skip={assets.REQUESTS}
        ),
        asset_checks=assets.asset_checks,
        sensors=started_in_sandbox([*assets.sensors, *earnings.sensors], settings.is_sandbox),
        resources=build_resources(settings),
    )
