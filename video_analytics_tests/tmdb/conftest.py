"""A TMDB simulator served over real HTTP for the whole folder; every test starts without faults."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from video_analytics.sandbox import Faults, SimulatorServer
from video_analytics.sandbox.tmdb.simulator import SANDBOX_API_KEY, TMDBKnobs, TMDBSimulator, TMDBWorld
from video_analytics.tmdb.client import TMDBClient
from video_analytics.tmdb.resources import TMDBResource

TODAY = date(2024, 3, 1)
FAST = {"max_rps": 2000.0, "burst": 2000}  # tests of other things need not wait on the 40/s limit


@pytest.fixture(scope="session")
def sim():
    simulator = TMDBSimulator(TMDBWorld(today=TODAY, scale="test"))
    simulator.set_knobs(FAST)  # module fixtures run before the per-test reset below
    with SimulatorServer(simulator.app) as server:
        simulator.base_url = server.base_url + "/3"
        yield simulator


def reset(sim: TMDBSimulator) -> None:
    sim.set_knobs({**dataclasses.asdict(TMDBKnobs()), **FAST})
    sim.faults.update(**Faults().snapshot())
    sim.stats.reset()
    sim.clock_frozen_at, sim.clock_skew = None, 0.0


@pytest.fixture(autouse=True)
def healthy(sim):
    """Each test starts and ends with a healthy simulator: ending matters too, because the next
    module's fixtures (a lake built through the API) run before its first test's reset."""
    reset(sim)
    yield
    reset(sim)


def make_client(sim, **overrides) -> TMDBClient:
    options = {"api_key": SANDBOX_API_KEY, "rate_limit": 1000.0, **overrides}
    retry = options.pop("retry", None)
    from video_analytics.http import RetryPolicy

    return TMDBClient(sim.base_url, retry=retry or RetryPolicy(base_delay=0.01), **options)


def make_resource(sim, **overrides) -> TMDBResource:
    options = {
        "api_key": SANDBOX_API_KEY,
        "base_url": sim.base_url,
        "sandbox_clock": True,
        "rate_limit": 1000.0,
        "retry_base_delay": 0.01,
        **overrides,
    }
    return TMDBResource(**options)
