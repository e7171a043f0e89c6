"""The source's definitions as the platform loads them, and the demo step that drives the sensor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl
import pytest

from video_analytics.dailymotion import assets as dma
from video_analytics.dailymotion import definitions as dmd
from video_analytics.partitions import RANGE_END_TAG, RANGE_START_TAG
from video_analytics.sandbox import SimulatorServer, registry
from video_analytics.sandbox.dailymotion.simulator import (
    DailyMotionSimulator,
    DailyMotionWorld,
    sandbox_simulator,
)
from video_analytics.settings import Settings


@pytest.fixture
def today_sim(monkeypatch):
    """A simulator whose 'today' is the real today, as in the demo; the env points the resource at it."""
    sim = DailyMotionSimulator(DailyMotionWorld(today=datetime.now(UTC).date(), scale="test"))
    sim.knobs.report_delay = 0.0
    with SimulatorServer(sim.app) as server:
        for key, value in sim.env(server.base_url).items():
            monkeypatch.setenv(key, value)
        yield sim


def test_build_loads_with_sensor_resource_and_io_manager(today_sim, tmp_path):
    defs = dmd.build(Settings(data_dir=str(tmp_path)))
    dg.Definitions.validate_loadable(defs)
    sensor = defs.resolve_sensor_def(dma.SENSOR_NAME)
    assert sensor.minimum_interval_seconds == 60
    assert {str(k) for k in defs.resolve_all_asset_keys()} >= {str(dma.HOURLY), str(dma.DAILY)}
    assert set(defs.resources) == {"dailymotion", dma.IO_MANAGER_KEY}


def test_demo_step_ticks_the_sensor_until_the_range_is_materialized(today_sim, tmp_path):
    last = datetime.now(UTC).date() - timedelta(days=1)
    window = ((last - timedelta(days=2)).isoformat(), last.isoformat())
    defs = dmd.build(Settings(data_dir=str(tmp_path)))
    with dg.DagsterInstance.ephemeral() as instance:
        [step] = registry.source("dailymotion").demo_steps
        summary = step.runner(defs, instance, window)
        done = instance.get_materialized_partitions(dma.HOURLY)
    assert {window[0], window[1]} <= done
    assert summary["dm_hourly_reports"]["partitions"] >= 3 and summary["dm_hourly_reports"]["rows"] > 0
    assert summary["dm_daily_video_stats"]["api_requests"] > 0
    daily = pl.read_parquet(sorted((tmp_path / "dm_daily_video_stats").glob("date=*/part-0.parquet")))
    assert daily["views"].sum() > 0


def test_sandbox_simulator_follows_the_sandbox():
    class FakeSandbox:
        today, scale, seed = datetime(2024, 5, 1).date(), "test", 3

    sim = sandbox_simulator(FakeSandbox())
    assert sim.world.today == FakeSandbox.today and sim.knobs.report_delay == 2.0
    assert set(sim.env("http://h:1")) == {"DM_BASE_URL", "DM_CLIENT_API", "DM_CLIENT_SECRET"}


def test_sensor_tick_as_the_daemon_evaluates_it(today_sim, tmp_path):
    """evaluate_tick resolves the run requests against the sensor's target, as the daemon does."""
    defs = dmd.build(Settings(data_dir=str(tmp_path)))
    sensor = defs.resolve_sensor_def(dma.SENSOR_NAME)
    resources = {"dailymotion": dmd.resource(Settings(), poll_initial_seconds=0, lookback_days=2)}
    with dg.DagsterInstance.ephemeral() as instance:
        cursor, requests = None, []
        for _ in range(3):
            context = dg.build_sensor_context(
                instance=instance,
                cursor=cursor,
                resources=resources,
                definitions=defs,
                sensor_name=dma.SENSOR_NAME,
            )
            tick = sensor.evaluate_tick(context)
            cursor, requests = tick.cursor, requests + list(tick.run_requests)
    [request] = requests
    assert request.run_key in today_sim.reports
    assert set(request.asset_selection) == {dma.HOURLY, dma.DAILY}
    last = datetime.now(UTC).date() - timedelta(days=1)
    assert request.tags[RANGE_START_TAG] == (last - timedelta(days=1)).isoformat()
    assert request.tags[RANGE_END_TAG] == last.isoformat()
