"""The cross-platform tables in the demo: a mapping file pairing the simulated platforms' top videos
(they share no titles), written from what the sources just landed, unless the user names their own."""

from __future__ import annotations

import os
from datetime import date

import dagster as dg

from video_analytics.sandbox.demo_steps import DemoStep, Summary, run_step
from video_analytics.sandbox.unified.video_mapping import write_demo_mapping
from video_analytics.settings import Settings
from video_analytics.unified.resources import MAPPING_SETTING

ASSETS = ("video_identity", "video_daily_performance", "video_performance_report")


def mapping_path(settings: Settings) -> str:
    return f"{settings.lake_root.rstrip('/')}/sandbox/video_mapping.csv"


def run_with_demo_mapping(
    defs: dg.Definitions, instance: dg.DagsterInstance, partition_range: tuple[str, str]
) -> Summary:
    """Write the sandbox's mapping file (from what the sources just landed), then run the assets."""
    settings = Settings.from_env()
    if os.environ.get(MAPPING_SETTING) == mapping_path(settings):
        write_demo_mapping(settings.lake_root, mapping_path(settings))
    return run_step(DemoStep("cross-platform", ASSETS, True), defs, instance, partition_range)


STEPS = (DemoStep("Cross-platform table, identity and report", ASSETS, True, runner=run_with_demo_mapping),)


def prepare_demo(days: list[date]) -> dict[str, str]:
    """The demo uses its own mapping file unless the user names one."""
    return {MAPPING_SETTING: os.environ.get(MAPPING_SETTING) or mapping_path(Settings.from_env())}


def sandbox_env(settings: Settings) -> dict[str, str]:
    path = mapping_path(settings)
    return {MAPPING_SETTING: path} if os.path.exists(path) else {}
