"""Derived tables follow their inputs: the `automation` sensor's conditions, evaluated as the daemon does."""

from __future__ import annotations

import dagster as dg

from video_analytics.definitions import build_definitions
from video_analytics.settings import Settings

DAYS = ["2024-03-01", "2024-03-02"]


def _land(instance: dg.DagsterInstance, asset: str, days: list[str]) -> None:
    for day in days:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=day))


def _requested(defs, instance, asset: str, cursor=None):
    result = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=dg.AssetSelection.assets(asset), cursor=cursor
    )
    return result.get_requested_partitions(dg.AssetKey(asset)), result.cursor


def test_agora_video_stats_follow_the_days_their_sessions_land_on_once():
    defs = build_definitions(Settings())
    with dg.instance_for_test() as instance:
        requested, cursor = _requested(defs, instance, "agora_video_daily_stats")
        assert requested == set()  # no sessions yet: nothing to derive
        _land(instance, "agora_session_stats", DAYS)
        requested, cursor = _requested(defs, instance, "agora_video_daily_stats", cursor)
        assert requested == set(DAYS)  # older days too, not only the latest partition
        requested, cursor = _requested(defs, instance, "agora_video_daily_stats", cursor)
        assert requested == set()  # handled: not asked again
        _land(instance, "agora_session_stats", DAYS[:1])  # a re-run of one day
        requested, _ = _requested(defs, instance, "agora_video_daily_stats", cursor)
        assert requested == set(DAYS[:1])


def test_tmdb_metrics_follow_snapshots_and_the_sensor_runs_by_default():
    defs = build_definitions(Settings())
    with dg.instance_for_test() as instance:
        _, cursor = _requested(defs, instance, "tmdb_movie_metrics")
        _land(instance, "tmdb_snapshots", DAYS)
        requested, _ = _requested(defs, instance, "tmdb_movie_metrics", cursor)
        # each snapshot day feeds the metrics of that day and of the 14 days after it
        assert requested == {f"2024-03-{day:02d}" for day in range(1, 17)}
    sensor = defs.get_repository_def().get_sensor_def("automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
