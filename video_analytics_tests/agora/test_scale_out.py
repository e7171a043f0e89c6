"""Agora scales out (one run per day of a backfill) and up (the scanner uses the cores it is given)."""

from __future__ import annotations

from datetime import date

import pytest
from dagster._core.definitions.backfill_policy import BackfillPolicyType
from polars.testing import assert_frame_equal

from video_analytics.agora import assets as ag
from video_analytics.agora import engine, linescan
from video_analytics.agora.client import LogReader
from video_analytics.agora.resources import AgoraLogsResource
from video_analytics.sandbox.agora.generator import write_day

DAY = date(2024, 3, 1)


@pytest.fixture(scope="module")
def log_root(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("agora_logs")
    write_day(str(root), DAY, 20_000, files=2)
    return str(root)


def test_a_backfill_makes_one_run_per_day():
    for asset in ag.assets:
        policy = asset.backfill_policy
        assert policy.policy_type == BackfillPolicyType.MULTI_RUN
        assert policy.max_partitions_per_run == 1


def test_scanner_threads_default_to_the_cores_of_this_process(monkeypatch):
    monkeypatch.setattr(engine.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert engine.available_cores() == 3


@pytest.mark.skipif(not linescan.available(), reason="native scanner not built")
def test_scanner_runs_on_the_threads_asked_and_the_result_does_not_depend_on_them(log_root, monkeypatch):
    asked: list[int] = []
    real_ahead = engine._ahead

    def recording_ahead(function, items, workers=2):
        asked.append(workers)
        return real_ahead(function, items, workers)

    monkeypatch.setattr(engine, "_ahead", recording_ahead)
    monkeypatch.setattr(engine, "available_cores", lambda: 3)
    one = engine.analyse_day(LogReader(log_root, block_bytes=64 * 1024), DAY, scan_threads=1)
    default = engine.analyse_day(LogReader(log_root, block_bytes=64 * 1024), DAY)
    assert asked == [1, 3]
    assert one.sessions.height > 400  # 20k lines of the realistic mix (73% keyless) hold ~480 streams
    assert_frame_equal(one.sessions, default.sessions)
    assert one.counters() == default.counters()


def test_resource_zero_threads_means_the_cores_given():
    assert AgoraLogsResource(log_root="/logs").threads() is None
    assert AgoraLogsResource(log_root="/logs", scan_threads=4).threads() == 4
