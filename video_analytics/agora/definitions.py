"""Agora's contribution to the platform: assets, schedule, the log resource, demo steps and logs."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import date

import dagster as dg

from video_analytics.agora import assets
from video_analytics.agora.resources import build_resources
from video_analytics.demo_steps import DemoStep
from video_analytics.settings import Settings
from video_analytics.storage.targets import storage_kind, with_storage_kind

DEMO_LINES_PER_DAY = 200_000

DEMO_STEPS = (
    DemoStep("Agora player logs", ("agora_session_stats", "agora_rejects", "agora_video_daily_stats"), True),
)


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=with_storage_kind(assets.assets, storage_kind(settings, "agora")),
        schedules=assets.schedules,
        resources=build_resources(settings),
    )


def demo_log_root(settings: Settings | None = None) -> str:
    settings = settings or Settings.from_env()
    return settings.agora.log_root or f"{settings.lake_root.rstrip('/')}/sandbox/agora_logs"


def sandbox_env(settings: Settings) -> dict[str, str]:
    """For `video-analytics ui` in the sandbox: read the logs the demo generated."""
    return {"AGORA_LOG_ROOT": demo_log_root(settings)}


def prepare_demo(days: list[date]) -> dict[str, str]:
    """Generate the sandbox logs of the demo days (skipping days already there) and point Agora at them.

    Deterministic: a day regenerates identically, so skipping existing days changes nothing.
    """
    from video_analytics.agora.client import LogReader

    settings = Settings.from_env()
    root = demo_log_root(settings)
    lines = settings.agora.demo_lines or DEMO_LINES_PER_DAY
    options = settings.agora.log_storage_options
    reader = LogReader(root, options)
    missing = [day for day in days if not reader.day_files(day)]
    if len(missing) > 1:  # one process per core: generating is plain Python
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=context) as pool:
            list(pool.map(_write_demo_day, [(root, day, lines, options) for day in missing]))
    else:
        for day in missing:
            _write_demo_day((root, day, lines, options))
    return {"AGORA_LOG_ROOT": root}


def _write_demo_day(job: tuple[str, date, int, dict[str, str]]) -> None:
    from video_analytics.agora.generator import write_day

    root, day, lines, options = job
    write_day(root, day, lines, files=3, gzip_files=True, storage_options=options)
