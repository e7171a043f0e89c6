"""The demo's sandbox is faster than the vendors where that only costs waiting; production is not."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from video_analytics.sandbox.tmdb.simulator import DEMO_REQUESTS_PER_SECOND, sandbox_simulator
from video_analytics.settings import Settings, SettingsError
from video_analytics.tmdb import definitions as tmdb_definitions
from video_analytics.tmdb.client import DEFAULT_RATE


def test_the_demo_tmdb_paces_the_client_ten_times_faster(monkeypatch):
    simulator = sandbox_simulator(SimpleNamespace(today=date(2024, 3, 1), seed=7, scale="demo"))
    assert simulator.knobs.max_rps == DEMO_REQUESTS_PER_SECOND
    env = simulator.env("http://127.0.0.1:1")
    assert float(env["TMDB_REQUESTS_PER_SECOND"]) == pytest.approx(DEMO_REQUESTS_PER_SECOND * 0.95)
    monkeypatch.setenv("TMDB_REQUESTS_PER_SECOND", env["TMDB_REQUESTS_PER_SECOND"])
    assert tmdb_definitions.resource(Settings()).rate_limit == pytest.approx(380.0)


def test_tests_and_production_keep_tmdbs_rate(monkeypatch):
    simulator = sandbox_simulator(SimpleNamespace(today=date(2024, 3, 1), seed=7, scale="test"))
    assert simulator.knobs.max_rps == 40.0 and "TMDB_REQUESTS_PER_SECOND" not in simulator.env("http://x")
    monkeypatch.delenv("TMDB_REQUESTS_PER_SECOND", raising=False)
    assert tmdb_definitions.resource(Settings()).rate_limit == DEFAULT_RATE
    monkeypatch.setenv("TMDB_REQUESTS_PER_SECOND", "fast")
    with pytest.raises(SettingsError, match="TMDB_REQUESTS_PER_SECOND='fast' is not a positive number"):
        tmdb_definitions.resource(Settings())
