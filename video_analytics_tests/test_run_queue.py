"""The instance our users start: a backfill is picked up within seconds, and the run queue's limits hold."""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest
from dagster._daemon import controller
from dagster._daemon.backfill import execute_backfill_iteration_loop

from video_analytics.run_queue import ResponsiveRunQueue

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def restore_dagster_interval():
    before = controller.DEFAULT_DAEMON_INTERVAL_SECONDS
    yield
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = before


@pytest.fixture(autouse=True)
def sqlite_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.delenv("VIDEO_ANALYTICS_PG_URL", raising=False)


def instance_with(tmp_path, yaml_text: str | None = None) -> dg.DagsterInstance:
    if yaml_text is None:
        shutil.copyfile(REPO_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")  # what users get
    else:
        (tmp_path / "dagster.yaml").write_text(yaml_text)
    return dg.DagsterInstance.from_config(str(tmp_path))


class RecordedWait(threading.Event):
    """A shutdown event that records how long the daemon loop would sleep instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return False


def test_our_instance_polls_the_queue_every_second_and_keeps_four_runs(tmp_path, restore_dagster_interval):
    with instance_with(tmp_path) as instance:
        queue = instance.run_coordinator
        assert isinstance(queue, ResponsiveRunQueue)
        assert queue.dequeue_interval_seconds == 1
        assert queue.backfill_interval_seconds == 5
        # `concurrency: runs:` still limits the queue (Dagster merges it into the coordinator's)
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4
        assert "BACKFILL" in instance.get_required_daemon_types()


def test_the_backfill_daemon_loop_sleeps_the_configured_interval(tmp_path, restore_dagster_interval):
    """Fails if a Dagster upgrade stops reading the interval where ResponsiveRunQueue sets it."""
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = 30
    with instance_with(tmp_path) as instance:
        assert instance.get_required_daemon_types()  # what the daemon does first: loads the coordinator
        shutdown = RecordedWait()
        context = SimpleNamespace(instance=instance)  # no backfills: the loop only queries the instance
        loop = execute_backfill_iteration_loop(context, logging.getLogger("test"), shutdown)
        while not shutdown.waits:
            next(loop)
    assert 4.0 < shutdown.waits[0] <= 5.0


def test_a_zero_backfill_interval_is_refused_with_the_setting_named(tmp_path, restore_dagster_interval):
    yaml_text = (
        "run_coordinator:\n  module: video_analytics.run_queue\n  class: ResponsiveRunQueue\n"
        "  config:\n    backfill_interval_seconds: 0\n"
    )
    where = r"dagster\.yaml run_coordinator: config: backfill_interval_seconds must be at least 1"
    with pytest.raises(ValueError, match=where):
        _ = instance_with(tmp_path, yaml_text).run_coordinator
