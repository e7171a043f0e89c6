"""Agora in the demo: generated player logs for the demo's days, where the Agora resource reads them."""

from __future__ import annotations

import functools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import date

from video_analytics.agora.client import LogReader
from video_analytics.agora.definitions import storage_options
from video_analytics.sandbox.agora.generator import write_day
from video_analytics.sandbox.demo_steps import DemoStep
from video_analytics.settings import Settings, env_number

LINES_PER_DAY = 200_000  # AGORA_DEMO_LINES overrides it

STEPS = (
    DemoStep("Agora player logs", ("agora_session_stats", "agora_rejects", "agora_video_daily_stats"), True),
)


def log_root(settings: Settings | None = None) -> str:
    settings = settings or Settings.from_env()
    return os.environ.get("AGORA_LOG_ROOT") or f"{settings.lake_root.rstrip('/')}/sandbox/agora_logs"


def sandbox_env(settings: Settings) -> dict[str, str]:
    """For `video-analytics ui` in the sandbox: read the logs the demo generated."""
    return {"AGORA_LOG_ROOT": log_root(settings)}


def prepare_demo(days: list[date]) -> dict[str, str]:
    """Generate the sandbox logs of the demo days (skipping days already there) and point Agora at them.

    Deterministic: a day regenerates identically, so skipping existing days changes nothing.
    """
    root = log_root()
    lines = env_number("AGORA_DEMO_LINES", integer=True) or LINES_PER_DAY
    options = storage_options()
    reader = LogReader(root, options)
    missing = [day for day in days if not reader.day_files(day)]
    # a partial of the generator's own function, so the pool's workers import the generator alone
    write = functools.partial(write_day, files=3, gzip_files=True, storage_options=options)
    if len(missing) > 1:  # one process per core: generating is plain Python
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=context) as pool:
            list(pool.map(write, [root] * len(missing), missing, [lines] * len(missing)))
    else:
        for day in missing:
            write(root, day, lines)
    return {"AGORA_LOG_ROOT": root}
