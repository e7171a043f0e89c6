"""A lake writer that pauses at a chosen point of a real write so a test can SIGKILL it there.

Run as ``python -m video_analytics_tests.storage.lake_writer_child ROOT PAUSE_AT NTH PER_DAY VERSION``:
it materializes :func:`events_asset` over ``DAYS`` through :class:`ParquetLakeIOManager` and, at the
NTH temp file, prints ``paused <temp path>`` and blocks until killed, or until its stdin closes (then it
goes on: operations/test_overlapping_backfills.py holds a run mid-write that way). PAUSE_AT is
``created`` (the temp file exists, 0 bytes) or ``renaming`` (it is complete and fsynced, the rename
has not happened).
The test imports :func:`events_asset` too, so the killed run and the re-run write the same asset.
"""

import os
import sys
from collections.abc import Sequence

import dagster as dg
import polars as pl

from video_analytics.partitions import daily_partitions
from video_analytics.storage.parquet import TEMP_SUFFIX, ParquetLakeIOManager

DAYS = ["2024-03-01", "2024-03-02", "2024-03-03"]
RANGE = {"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[-1]}


def events_frame(days: Sequence[str], per_day: int, version: int) -> pl.DataFrame:
    """``per_day`` rows for each day, the same whichever span they are written in."""
    return pl.DataFrame(
        {
            "date": pl.Series([d for d in days for _ in range(per_day)]).str.to_date(),
            "video_id": [f"v{j % 997}" for _ in days for j in range(per_day)],
            "views": [j * version for _ in days for j in range(per_day)],
        }
    )


def events_asset(per_day: int, version: int) -> dg.AssetsDefinition:
    @dg.asset(
        name="events",
        key_prefix=["brightcove"],
        partitions_def=daily_partitions("2024-01-01"),
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def events(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return events_frame(context.partition_keys, per_day, version)

    return events


def materialize_days(root: str, per_day: int, version: int) -> bool:
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [events_asset(per_day, version)],
            instance=instance,
            resources={"io_manager": ParquetLakeIOManager(root=root)},
            tags=RANGE,
        )
    return result.success


def pause_the_writer(pause_at: str, nth: int) -> None:
    """Wrap ``os.open``/``os.replace`` so the NTH temp file's write stops at ``pause_at``."""
    seen = {"created": 0, "renaming": 0}
    real_open, real_replace = os.open, os.replace

    def pause(point: str, path: str) -> None:
        seen[point] += 1
        if point == pause_at and seen[point] == nth:
            print(f"paused {path}", flush=True)
            sys.stdin.read()  # until the parent SIGKILLs us, or closes our stdin to let us go on

    def open_then_pause(path, flags, mode=0o777, *args, **kwargs):
        fd = real_open(path, flags, mode, *args, **kwargs)
        if str(path).endswith(TEMP_SUFFIX):
            pause("created", str(path))
        return fd

    def pause_then_replace(src, dst, *args, **kwargs):
        if str(src).endswith(TEMP_SUFFIX):
            pause("renaming", str(src))
        return real_replace(src, dst, *args, **kwargs)

    os.open, os.replace = open_then_pause, pause_then_replace


if __name__ == "__main__":
    root, pause_at, nth, per_day, version = sys.argv[1:6]
    pause_the_writer(pause_at, int(nth))
    materialize_days(root, int(per_day), int(version))
    print("finished", flush=True)
