"""DailyMotion fixtures: the simulator over real HTTP on 127.0.0.1, and resources pointed at it."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from video_analytics.dailymotion.resources import DailyMotionResource
from video_analytics.sandbox import Faults, SimulatorServer
from video_analytics.sandbox.dailymotion.simulator import (
    DailyMotionKnobs,
    DailyMotionSimulator,
    DailyMotionWorld,
)

TODAY = date(2024, 3, 1)


class Running:
    """The simulator plus its URL and a few admin helpers that go through HTTP like another process."""

    def __init__(self, sim: DailyMotionSimulator, url: str) -> None:
        self.sim, self.url = sim, url

    def knobs(self, **values) -> None:
        response = httpx.post(f"{self.url}/_sandbox/faults", json=values)
        assert response.status_code == 200, response.text

    def advance(self, seconds: float) -> None:
        assert httpx.post(f"{self.url}/_sandbox/clock", json={"advance": seconds}).status_code == 200

    def resource(self, **overrides) -> DailyMotionResource:
        env = self.sim.env(self.url)
        config = {
            "client_id": env["DM_CLIENT_API"],
            "client_secret": env["DM_CLIENT_SECRET"],
            "base_url": env["DM_BASE_URL"],
            "retry_base_delay": 0.01,
            "poll_initial_seconds": 0.0,
            "poll_max_seconds": 0.0,
            "failure_backoff_seconds": 0.0,
        }
        return DailyMotionResource(**{**config, **overrides})


@pytest.fixture(scope="module")
def dm_server():
    sim = DailyMotionSimulator(DailyMotionWorld(today=TODAY, scale="test"))
    with SimulatorServer(sim.app) as server:
        yield Running(sim, server.base_url)


@pytest.fixture
def dm(dm_server):
    """The module's simulator, reset to healthy defaults (no faults, no reports, clock at zero)."""
    reset(dm_server.sim)
    yield dm_server


def reset(sim: DailyMotionSimulator) -> None:
    """Healthy defaults; reports finish at once, so no test waits on the wall clock for one."""
    sim.faults.update(**Faults().snapshot())
    sim.knobs = DailyMotionKnobs(report_delay=0.0)
    sim.reports.clear()
    sim.clock_offset = 0.0
    sim.stats.reset()
