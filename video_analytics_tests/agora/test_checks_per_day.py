"""Agora checks are judged per day: a failed day marks that day, not the asset, and recovers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg

from video_analytics.agora import assets as ag
from video_analytics.agora.resources import AgoraLogsResource
from video_analytics.partitions import daily_partitions, partition_range_tags
from video_analytics.sandbox.agora.generator import write_day
from video_analytics.storage.parquet import ParquetLakeIOManager

DAYS = ("2024-03-01", "2024-03-02", "2024-03-03")
CHECKS = [
    dg.AssetCheckKey(dg.AssetKey(asset), name)
    for asset, names in {
        "agora_session_stats": ("unique_stream_per_day", "counts_non_negative", "rejected_share_below_5pct"),
        "agora_video_daily_stats": ("unique_video_per_day", "percentages_within_0_100"),
    }.items()
    for name in names
]


def statuses(instance: dg.DagsterInstance, key: dg.AssetCheckKey) -> dict[str, list[str]]:
    """What the UI shows per day for one check: status name -> days (as Dagster computes it)."""
    state = instance.event_log_storage.get_asset_check_state([(key, daily_partitions())])[key]
    shown = {}
    for status, subset in state.subsets.items():
        days = sorted(subset.subset_value.get_partition_keys()) if subset.subset_value else []
        if days:
            shown[status.value] = days
    return shown


def materialize(instance, log_root: Path, lake: Path, start: str, end: str):
    logs = AgoraLogsResource(log_root=str(log_root))
    return dg.materialize(
        ag.assets,
        instance=instance,
        resources={"agora_logs": logs, "io_manager": ParquetLakeIOManager(root=str(lake))},
        tags=partition_range_tags(start, end),
        raise_on_error=False,
    )


def test_a_missing_day_fails_that_day_only_and_turns_green_when_recovered(tmp_path):
    logs, lake = tmp_path / "logs", tmp_path / "lake"
    for day in DAYS[:2]:
        write_day(str(logs), date.fromisoformat(day), 2_000, files=2)
    with dg.instance_for_test() as instance:
        # a single-run backfill of two days: one evaluation per check and day, after its materialization
        loaded = materialize(instance, logs, lake, DAYS[0], DAYS[1])
        assert loaded.success
        evaluations = loaded.get_asset_check_evaluations()
        assert sorted((e.asset_check_key, e.partition) for e in evaluations) == sorted(
            (key, day) for key in CHECKS for day in DAYS[:2]
        )
        for evaluation in evaluations:
            key, partition = evaluation.asset_key, evaluation.partition
            day = dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition])
            record = instance.fetch_materializations(day, limit=1).records[0]
            assert record.event_log_entry.run_id == loaded.run_id
            assert evaluation.target_materialization_data.storage_id == record.storage_id
        assert {key: statuses(instance, key) for key in CHECKS} == {
            key: {"SUCCEEDED": list(DAYS[:2])} for key in CHECKS
        }

        # the nightly run of a day whose logs have not arrived fails: that day is red, the others stay green
        failed = materialize(instance, logs, lake, DAYS[2], DAYS[2])
        assert not failed.success
        assert {key: statuses(instance, key) for key in CHECKS} == {
            key: {"SUCCEEDED": list(DAYS[:2]), "EXECUTION_FAILED": [DAYS[2]]} for key in CHECKS
        }
        assert not (lake / "agora_session_stats" / f"date={DAYS[2]}").exists(), "nothing written"

        # the logs arrive, the day is re-run: every day is green
        write_day(str(logs), date.fromisoformat(DAYS[2]), 2_000, files=2)
        assert materialize(instance, logs, lake, DAYS[2], DAYS[2]).success
        assert {key: statuses(instance, key) for key in CHECKS} == {
            key: {"SUCCEEDED": list(DAYS)} for key in CHECKS
        }
