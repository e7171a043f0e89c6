"""Partitions start where the settings say: the demo's first day in the sandbox, configurable elsewhere."""

from __future__ import annotations

import json
from datetime import date, timedelta

import dagster as dg

from video_analytics.definitions import build_definitions
from video_analytics.sandbox.demo import use_demo_start_date
from video_analytics.sandbox.start_date import (
    record_demo_start,
    recorded_start,
    sandbox_start,
    sandbox_start_env,
)
from video_analytics.sandbox.tmdb.demo import HISTORY_DAYS
from video_analytics.settings import Settings


def first_days(defs: dg.Definitions) -> dict[str, str]:
    """First partition of every partitioned asset, check and schedule job, by name."""
    graph = defs.resolve_asset_graph()
    firsts = {}
    for key in [*graph.get_all_asset_keys(), *graph.asset_check_keys]:
        partitions = graph.get(key).partitions_def
        if partitions is not None:
            firsts[key.to_user_string()] = partitions.get_first_partition_key()
    repository = defs.get_repository_def()
    for schedule in repository.schedule_defs:
        partitions = repository.get_job(schedule.job_name).partitions_def
        if partitions is not None:
            firsts[f"schedule {schedule.name}"] = partitions.get_first_partition_key()
    return firsts


def test_build_definitions_uses_the_start_date_it_is_given():
    moved = first_days(build_definitions(Settings(start_date="2026-11-01")))
    # every daily asset, its per-day checks and the schedules' jobs
    assert (
        "agora_session_stats" in moved and "daily_video_metrics" in moved and "schedule agora_daily" in moved
    )
    assert "agora_session_stats:unique_stream_per_day" in moved
    assert set(moved.values()) == {"2026-11-01"}
    production = first_days(build_definitions(Settings(profile="production", secrets_check="run")))
    assert production.keys() == moved.keys() and set(production.values()) == {"2023-01-01"}


def test_the_demo_records_its_first_day_and_the_ui_starts_there(tmp_path, monkeypatch):
    lake = str(tmp_path / "data")
    assert sandbox_start(lake, date(2026, 12, 2)) == "2026-11-18", "no demo yet: a default demo's first day"
    assert record_demo_start(lake, date(2026, 11, 20)) == "2026-11-20"
    assert record_demo_start(lake, date(2026, 11, 29)) == "2026-11-20", "older days stay in the lake"
    assert json.loads((tmp_path / "data" / "sandbox" / "demo_start.json").read_text()) == {
        "first_day": "2026-11-20"
    }
    assert sandbox_start_env(lake, date(2026, 12, 2), {}) == {"VIDEO_ANALYTICS_START_DATE": "2026-11-20"}
    chosen = {"VIDEO_ANALYTICS_START_DATE": "2025-01-01"}
    assert sandbox_start_env(lake, date(2026, 12, 2), chosen) == {}, "a start date the user set wins"

    (tmp_path / "data" / "sandbox" / "demo_start.json").write_text("{garbled")
    assert recorded_start(lake) is None

    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", lake)
    monkeypatch.setenv("VIDEO_ANALYTICS_START_DATE", "2000-01-01")  # so that monkeypatch restores it,
    monkeypatch.delenv("VIDEO_ANALYTICS_START_DATE")  # then unset: the demo sets it
    use_demo_start_date(date(2026, 11, 25))
    # TMDB's demo loads snapshots before the demo's first day: that is where the data starts
    assert Settings.from_env().start_date == str(date(2026, 11, 25) - timedelta(days=HISTORY_DAYS))


def test_a_production_deployment_keeps_its_configured_start(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEO_ANALYTICS_PROFILE", "production")
    monkeypatch.setenv("VIDEO_ANALYTICS_SECRETS_CHECK", "run")  # no credentials in this test
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VIDEO_ANALYTICS_START_DATE", "2024-06-01")
    use_demo_start_date(date(2026, 11, 25))
    assert Settings.from_env().start_date == "2024-06-01"
    assert not (tmp_path / "sandbox").exists()
    assert set(first_days(build_definitions(Settings.from_env())).values()) == {"2024-06-01"}
