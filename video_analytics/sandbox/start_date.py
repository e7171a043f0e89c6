"""Where the sandbox's partitions start: the first day the demo loaded, so fill bars show its data.

A deployment sets VIDEO_ANALYTICS_START_DATE (default 2023-01-01). The sandbox has a few days of data
only, and 1,400 empty days before them make every asset read "0% filled"; so `video-analytics demo`
records the first day it loaded in the lake, and `demo` and `ui` start the partitions there unless
VIDEO_ANALYTICS_START_DATE is set.
"""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path

START_ENV = "VIDEO_ANALYTICS_START_DATE"
RECORD = Path("sandbox") / "demo_start.json"
DEFAULT_DEMO_DAYS = 14  # `video-analytics demo` without --days


def record_demo_start(lake_root: str, first_day: date) -> str:
    """Remember the demo's first day (the earliest ever, as older days stay in the lake); returns it."""
    if "://" in lake_root:
        return first_day.isoformat()
    path = Path(lake_root) / RECORD
    known = recorded_start(lake_root)
    start = min(first_day, date.fromisoformat(known)) if known else first_day
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"first_day": start.isoformat()}))
    os.replace(temporary, path)
    return start.isoformat()


def recorded_start(lake_root: str) -> str | None:
    path = Path(lake_root) / RECORD
    if "://" in lake_root or not path.exists():
        return None
    try:
        value = json.loads(path.read_text())["first_day"]
        date.fromisoformat(value)
    except (ValueError, KeyError, TypeError):
        return None  # a damaged record only costs the nicer default
    return value


def sandbox_start(lake_root: str, today: date) -> str:
    """The recorded first demo day, else where a default demo run today would start."""
    return recorded_start(lake_root) or (today - timedelta(days=DEFAULT_DEMO_DAYS)).isoformat()


def sandbox_start_env(lake_root: str, today: date, environ: dict[str, str] | None = None) -> dict[str, str]:
    """{VIDEO_ANALYTICS_START_DATE: ...} for a sandbox process, unless the user has set it."""
    environ = os.environ if environ is None else environ
    if environ.get(START_ENV, "").strip():
        return {}
    return {START_ENV: sandbox_start(lake_root, today)}
