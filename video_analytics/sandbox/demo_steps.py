"""What the demo runs. Each source's `definitions.py` lists its steps as `DEMO_STEPS`, and may also
define `prepare_demo(days) -> dict[str, str]` (env vars to set before the definitions load, e.g. where
generated logs live) and `sandbox_env(settings) -> dict[str, str]` (the same for `video-analytics
ui`). Warehouse views are SQL files in `video_analytics/warehouse/sql/`, built by its own step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: (definitions, instance, (first day, last day)) -> the summary of `demo._summarize`, per asset.
StepRunner = Callable[[Any, Any, tuple[str, str]], dict[str, dict]]


@dataclass(frozen=True)
class DemoStep:
    """Assets materialized together in one run; partitioned steps cover the whole demo range at once.

    `runner` replaces the default single run, for sources whose runs a sensor starts.
    """

    title: str
    assets: tuple[str, ...]
    partitioned: bool
    runner: StepRunner | None = None
