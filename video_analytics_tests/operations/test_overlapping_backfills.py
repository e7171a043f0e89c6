"""Two backfills of the same days at once: the Parquet lake IO manager, one SQLite instance on disk.

Two runs materialize the same three partitions each (single-run backfills), released together by a
barrier so their writes overlap; both must succeed, and the lake must hold each day's rows once, with
no temporary file left behind. The runs are threads of the test process (two spawned processes cost
minutes of imports on a loaded machine); the writers race on the same files just the same.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import polars as pl

from video_analytics.partitions import partition_range_tags
from video_analytics.storage.parquet import ParquetLakeIOManager

DAYS = ("2024-02-01", "2024-02-02", "2024-02-03")
ROWS_PER_DAY = 5_000  # enough for the two writers to overlap on the same files
PARTITIONS = dg.DailyPartitionsDefinition("2024-01-01", timezone="UTC", fmt="%Y-%m-%d")


@dg.asset(
    partitions_def=PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={"partition_column": "day"},
)
def overlapping(context: dg.AssetExecutionContext) -> pl.DataFrame:
    window = context.partition_time_window
    days = pl.date_range(window.start.date(), window.end.date(), closed="left", eager=True)
    return pl.DataFrame({"day": days}).join(pl.DataFrame({"n": range(ROWS_PER_DAY)}), how="cross")


def backfill(home: str, lake: str, barrier: threading.Barrier) -> bool:
    with dg.DagsterInstance.from_config(home) as instance:
        barrier.wait(timeout=60)  # both runs start together
        result = dg.materialize(
            [overlapping],
            instance=instance,
            resources={"io_manager": ParquetLakeIOManager(root=lake)},
            tags=partition_range_tags(DAYS[0], DAYS[-1]),
        )
        return result.success


def test_two_overlapping_backfills_of_the_same_days_end_with_each_row_once(tmp_path: Path):
    home, lake = tmp_path / "home", tmp_path / "lake"
    home.mkdir()
    # No compute-log capture: two runs in one process would both redirect its stdout and stderr.
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "compute_logs:\n  module: dagster._core.storage.noop_compute_log_manager\n"
        "  class: NoOpComputeLogManager\n"
    )
    with dg.DagsterInstance.from_config(str(home)):
        pass  # the SQLite schema exists before two processes open it
    barrier = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(backfill, str(home), str(lake), barrier) for _ in range(2)]
        assert [run.result(timeout=120) for run in runs] == [True, True]  # no crashed writer
    files = sorted(p.relative_to(lake).as_posix() for p in lake.rglob("*") if p.is_file())
    assert files == [f"overlapping/date={day}/part-0.parquet" for day in DAYS]  # no temp file left
    frame = pl.read_parquet([lake / f for f in files])
    assert frame.height == len(DAYS) * ROWS_PER_DAY
    assert frame.group_by("day").len()["len"].to_list() == [ROWS_PER_DAY] * len(DAYS)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_materialized_partitions(overlapping.key) == set(DAYS)
