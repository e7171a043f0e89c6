"""Wistia fixtures: the simulator served over real HTTP with a fast rate limit, resources built directly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from video_analytics.partitions import partition_range_tags
from video_analytics.sandbox import Faults, SimulatorServer
from video_analytics.sandbox.wistia.simulator import WistiaKnobs, WistiaSimulator, WistiaWorld
from video_analytics.storage.parquet import ParquetLakeIOManager
from video_analytics.wistia.resources import WistiaResource

#: The simulated "today" is the real one: fact_engagements takes the live snapshot for yesterday.
TODAY = datetime.now(UTC).date()
YESTERDAY = TODAY - timedelta(days=1)
FAST_KNOBS = {
    "requests_per_minute": 100_000,
    "window_seconds": 60.0,
    "throttle_status": 429,
    "retry_after": "1",
    "blank_geo_as": "null",
}


@pytest.fixture(scope="session")
def wistia_sim() -> Iterator[tuple[WistiaSimulator, str]]:
    sim = WistiaSimulator(WistiaWorld(today=TODAY, scale="test", seed=11), knobs=WistiaKnobs(**FAST_KNOBS))
    with SimulatorServer(sim.app) as server:
        yield sim, server.base_url


@pytest.fixture(autouse=True)
def healthy(request) -> Iterator[None]:
    yield
    if "wistia_sim" in request.fixturenames:
        sim, _ = request.getfixturevalue("wistia_sim")
        sim.faults.update(**Faults().snapshot())
        sim.set_knobs(FAST_KNOBS)
        sim.clock_frozen_at, sim.clock_skew = None, 0.0


@pytest.fixture
def sim(wistia_sim) -> WistiaSimulator:
    return wistia_sim[0]


@pytest.fixture
def wistia(wistia_sim) -> WistiaResource:
    sim, url = wistia_sim
    env = sim.env(url)
    return WistiaResource(
        api_token=env["WISTIA_API_TOKEN"],
        base_url=env["WISTIA_BASE_URL"],
        requests_per_minute=0,
        retry_base_delay=0.01,
    )


def lake_resources(wistia: WistiaResource, root: str) -> dict:
    return {"wistia": wistia, "wistia_io_manager": ParquetLakeIOManager(root=root)}


def range_tags(start, end) -> dict[str, str]:
    return partition_range_tags(start, end)


def variant(wistia: WistiaResource, **changes) -> WistiaResource:
    """A new resource with some fields changed (Dagster re-reads a resource's config, not its copy)."""
    fields = (
        "api_token",
        "base_url",
        "requests_per_minute",
        "max_concurrency",
        "max_attempts",
        "retry_base_delay",
    )
    return WistiaResource(**{**{f: getattr(wistia, f) for f in fields}, **changes})
