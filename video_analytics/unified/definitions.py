"""The cross-platform layer's contribution: assets, the resource, demo step, warehouse views."""

from __future__ import annotations

import os
from datetime import date

import dagster as dg

from video_analytics.demo_steps import DemoStep
from video_analytics.settings import Settings
from video_analytics.unified import assets
from video_analytics.unified.resources import MAPPING_SETTING, build_resources

ASSETS = ("video_identity", "video_daily_performance", "video_performance_report")


def _demo_runner(defs: dg.Definitions, instance: dg.DagsterInstance, partition_range: tuple[str, str]):
    """Write the sandbox's mapping file (from what the sources just landed), then run the assets."""
    from video_analytics.demo import run_step
    from video_analytics.unified.sandbox_mapping import write_demo_mapping

    settings = Settings.from_env()
    if settings.cross_platform.video_mapping == demo_mapping_path(settings):
        write_demo_mapping(settings.lake_root, demo_mapping_path(settings))
    return run_step(DemoStep("cross-platform", ASSETS, True), defs, instance, partition_range)


DEMO_STEPS = (DemoStep("Cross-platform table, identity and report", ASSETS, True, runner=_demo_runner),)


def demo_mapping_path(settings: Settings) -> str:
    return f"{settings.lake_root.rstrip('/')}/sandbox/video_mapping.csv"


def prepare_demo(days: list[date]) -> dict[str, str]:
    """The demo uses its own mapping file unless the user names one."""
    settings = Settings.from_env()
    return {MAPPING_SETTING: settings.cross_platform.video_mapping or demo_mapping_path(settings)}


def sandbox_env(settings: Settings) -> dict[str, str]:
    path = demo_mapping_path(settings)
    return {MAPPING_SETTING: path} if os.path.exists(path) else {}


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=assets.assets, resources=build_resources(settings))
