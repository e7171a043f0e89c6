"""Every source as the sandbox knows it: one `SandboxSource` per source, in the demo's order.

The demo runs the steps in this order (the cross-platform tables after the sources they read, the
warehouse views last); `Sandbox` starts the simulators listed here; `video-analytics ui` sets the
`sandbox_env` of each. Add a source to the sandbox with one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

from video_analytics.sandbox.agora import demo as agora_demo
from video_analytics.sandbox.brightcove import simulator as brightcove_simulator
from video_analytics.sandbox.dailymotion import demo as dailymotion_demo
from video_analytics.sandbox.dailymotion import simulator as dailymotion_simulator
from video_analytics.sandbox.demo_steps import DemoStep
from video_analytics.sandbox.server import BaseSimulator
from video_analytics.sandbox.start_date import sandbox_start_env
from video_analytics.sandbox.tmdb import demo as tmdb_demo
from video_analytics.sandbox.tmdb import simulator as tmdb_simulator
from video_analytics.sandbox.unified import demo as unified_demo
from video_analytics.sandbox.wistia import simulator as wistia_simulator
from video_analytics.settings import Settings


class SimulatedWorld(Protocol):
    """What a simulator is built from: the `Sandbox`'s simulated today, data scale and seed."""

    today: date
    scale: str
    seed: int


#: Builds a source's simulator (not started yet) for the sandbox's today, scale and seed.
SimulatorFactory = Callable[[SimulatedWorld], BaseSimulator]


@dataclass(frozen=True)
class SandboxSource:
    """What the sandbox needs of one source.

    - `demo_steps`: what `video-analytics demo` materializes for it, in order; a step with a `runner`
      runs itself (DailyMotion's sensor, TMDB's history days, the demo's video mapping).
    - `simulator`: builds its vendor API's simulator for the `Sandbox` (none for log files or tables).
    - `prepare_demo(days)`: env vars to set before the definitions load, after preparing data the
      demo needs (Agora's generated logs).
    - `sandbox_env(settings)`: the env vars `video-analytics ui` needs to read what the demo made.
    - `history_days`: days the demo loads before its range; partitions start that much earlier.
    """

    name: str
    demo_steps: tuple[DemoStep, ...]
    simulator: SimulatorFactory | None = None
    prepare_demo: Callable[[list[date]], dict[str, str]] | None = None
    sandbox_env: Callable[[Settings], dict[str, str]] | None = None
    history_days: int = 0


SANDBOX_SOURCES: tuple[SandboxSource, ...] = (
    SandboxSource(
        "brightcove",
        demo_steps=(
            DemoStep("Brightcove CMS catalogue", ("cms_videos",), partitioned=False),
            DemoStep("Brightcove daily analytics", ("recently_viewed_videos", "daily_video_metrics"), True),
        ),
        simulator=brightcove_simulator.sandbox_simulator,
    ),
    SandboxSource(
        "dailymotion", demo_steps=dailymotion_demo.STEPS, simulator=dailymotion_simulator.sandbox_simulator
    ),
    SandboxSource(
        "wistia",
        demo_steps=(
            DemoStep(
                "Wistia media catalogue",
                ("wistia_dim_media", "wistia_fact_engagement_graph"),
                partitioned=False,
            ),
            DemoStep(
                "Wistia engagement and events",
                ("wistia_fact_engagements", "wistia_fact_engagements_byday", "wistia_fact_events"),
                partitioned=True,
            ),
            DemoStep("Wistia visitors", ("wistia_dim_visitors",), partitioned=False),
        ),
        simulator=wistia_simulator.sandbox_simulator,
    ),
    SandboxSource(
        "tmdb",
        demo_steps=tmdb_demo.STEPS,
        simulator=tmdb_simulator.sandbox_simulator,
        history_days=tmdb_demo.HISTORY_DAYS,
    ),
    SandboxSource(
        "agora",
        demo_steps=agora_demo.STEPS,
        prepare_demo=agora_demo.prepare_demo,
        sandbox_env=agora_demo.sandbox_env,
    ),
    SandboxSource(
        "unified",
        demo_steps=unified_demo.STEPS,
        prepare_demo=unified_demo.prepare_demo,
        sandbox_env=unified_demo.sandbox_env,
    ),
    SandboxSource(
        "warehouse",
        demo_steps=(DemoStep("Warehouse views (DuckDB)", ("duckdb_warehouse",), partitioned=False),),
    ),
)


def source(name: str) -> SandboxSource:
    """The registry entry of one source, by name."""
    for entry in SANDBOX_SOURCES:
        if entry.name == name:
            return entry
    raise KeyError(f"no sandbox source {name!r}; known: {', '.join(s.name for s in SANDBOX_SOURCES)}")


def demo_steps() -> list[DemoStep]:
    return [step for entry in SANDBOX_SOURCES for step in entry.demo_steps]


def history_days() -> int:
    """The most days any source's demo loads before the demo's range."""
    return max(entry.history_days for entry in SANDBOX_SOURCES)


def sandbox_env(settings: Settings, today: date | None = None) -> dict[str, str]:
    """What `video-analytics ui` sets besides the simulators' URLs: each source's `sandbox_env` and
    where the partitions start (the demo's first day, unless VIDEO_ANALYTICS_START_DATE is set)."""
    env: dict[str, str] = {}
    for entry in SANDBOX_SOURCES:
        if entry.sandbox_env is not None:
            env.update(entry.sandbox_env(settings))
    env.update(sandbox_start_env(settings.lake_root, today or datetime.now(UTC).date()))
    return env
