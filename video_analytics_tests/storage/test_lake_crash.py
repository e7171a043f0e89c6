"""Crash safety of the local lake: real writer processes killed with SIGKILL mid-write, leftovers of
older versions, stale temp files, and the file mode the umask gives.

The child process pauses at a chosen point of the real write (right after the temp file is created,
or right before it is renamed) and tells the parent, which then kills it with SIGKILL: the kill lands
at that point every time, without sleeping or racing.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from video_analytics.storage import parquet
from video_analytics.storage.parquet import (
    STAGING_DIR,
    lake_path,
    read_table,
    sweep_stale_temps,
    write_frame_atomic,
)
from video_analytics.storage.warehouse import build_warehouse, run_sql
from video_analytics_tests.storage.lake_writer_child import DAYS, events_frame, materialize_days

ROWS_PER_DAY = 40_000
KEY = ["brightcove", "events"]
REPO = Path(__file__).resolve().parents[2]
CHILD = "video_analytics_tests.storage.lake_writer_child"


def kill_child_at(root: Path, pause_at: str, nth: int, version: int) -> str:
    """Run the writer in a child, SIGKILL it when it reports the pause point; returns the temp path."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", CHILD, str(root), pause_at, str(nth), str(ROWS_PER_DAY), str(version)]
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        ready, _, _ = select.select([child.stdout], [], [], 180)  # a safety net, not a timing assert
        line = child.stdout.readline() if ready else ""
        assert line.startswith("paused "), f"child did not reach {pause_at}: {line!r}"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
        return line.removeprefix("paused ").strip()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def parquet_files(root: Path) -> list[str]:
    """Every *.parquet anywhere under the root: what a reader globbing the lake would pick up."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))


def committed() -> list[str]:
    return [f"{'/'.join(KEY)}/date={day}/part-0.parquet" for day in DAYS]


@pytest.mark.parametrize(("pause_at", "left_size"), [("created", 0), ("renaming", None)])
def test_sigkill_mid_backfill_leaves_nothing_readable_and_a_rerun_gives_the_same_rows(
    tmp_path: Path, pause_at: str, left_size: int | None
) -> None:
    root = tmp_path / "lake"
    for day in DAYS:  # yesterday's good run
        write_frame_atomic(lake_path(str(root), KEY, day), events_frame([day], ROWS_PER_DAY, version=1))
    before = read_table(str(root), KEY)

    # Today's run (new values) is killed while writing its second day.
    temp = kill_child_at(root, pause_at, nth=2, version=2)
    assert Path(temp).parent == root / "brightcove" / "events" / STAGING_DIR
    assert left_size is None or Path(temp).stat().st_size == left_size
    assert left_size is not None or Path(temp).stat().st_size > 0

    # No reader sees the leftover: only committed part files match *.parquet anywhere in the lake.
    assert parquet_files(root) == committed()
    after_kill = read_table(str(root), KEY)
    assert after_kill.height == len(DAYS) * ROWS_PER_DAY
    day1 = after_kill.filter(pl.col("date") == date(2024, 3, 1))
    assert (
        day1.get_column("views").sum() == 2 * before.filter(pl.col("date") == date(2024, 3, 1))["views"].sum()
    )  # day 1 was committed before the kill; day 2 still holds yesterday's file
    day2 = after_kill.filter(pl.col("date") == date(2024, 3, 2))
    assert day2.equals(before.filter(pl.col("date") == date(2024, 3, 2)))
    db = str(tmp_path / "warehouse.duckdb")
    assert build_warehouse(str(root), db)["brightcove__events"] == len(DAYS) * ROWS_PER_DAY

    # The re-run completes the same rows as an uninterrupted run and sweeps the dead writer's file.
    assert materialize_days(str(root), ROWS_PER_DAY, version=2)
    expected = pl.concat([events_frame([day], ROWS_PER_DAY, version=2) for day in DAYS])
    assert read_table(str(root), KEY).equals(expected)
    assert not Path(temp).exists()
    assert list((root / "brightcove" / "events" / STAGING_DIR).iterdir()) == []
    assert build_warehouse(str(root), db)["brightcove__events"] == len(DAYS) * ROWS_PER_DAY
    duplicates = "SELECT count(*) - count(DISTINCT (date, views)) FROM brightcove__events"
    assert run_sql(db, duplicates).item() == 0


def test_leftover_tmp_parquet_of_an_older_version_is_removed_when_its_day_is_rewritten(
    tmp_path: Path,
) -> None:
    """The reproduction of the report: a complete `.tmp-*.parquet` copy beside `part-0.parquet`."""
    root = tmp_path / "lake"
    frame = pl.DataFrame({"date": [date(2024, 3, 1)] * 5, "views": range(5)})
    target = Path(lake_path(str(root), KEY, "2024-03-01"))
    write_frame_atomic(str(target), frame)
    shutil.copy(target, target.parent / ".tmp-x.parquet")
    (target.parent / ".tmp-empty.parquet").write_bytes(b"")  # killed between create and write

    write_frame_atomic(str(target), frame)
    assert sorted(p.name for p in target.parent.iterdir()) == ["part-0.parquet"]
    db = str(tmp_path / "warehouse.duckdb")
    assert build_warehouse(str(root), db) == {"brightcove__events": 5}


@pytest.fixture
def staging(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "lake" / "brightcove" / "events" / STAGING_DIR
    folder.mkdir(parents=True)
    yield folder


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped), so nothing runs under it."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    return int(done.stdout)


def test_sweep_removes_only_temp_files_whose_writer_is_gone(staging: Path) -> None:
    host, now = socket.gethostname(), 1_000_000_000.0
    names = {
        "dead_here": f"date=2024-03-01~{host}~{dead_pid()}~aa.tmp",
        "alive_here": f"date=2024-03-01~{host}~{os.getppid()}~bb.tmp",
        "mine": f"date=2024-03-02~{host}~{os.getpid()}~cc.tmp",
        "fresh_elsewhere": "date=2024-03-01~other-host~1~dd.tmp",
        "old_elsewhere": "table~other-host~1~ee.tmp",
        "not_ours": "notes.txt",
    }
    for name in names.values():
        (staging / name).write_bytes(b"x")
        os.utime(staging / name, (now - 60, now - 60))
    old = now - parquet.STALE_TEMP_SECONDS - 1
    os.utime(staging / names["old_elsewhere"], (old, old))

    target = lake_path(str(staging.parents[2]), KEY, "2024-03-01")
    removed = sweep_stale_temps(target, clock=lambda: now)
    assert sorted(Path(p).name for p in removed) == sorted([names["dead_here"], names["old_elsewhere"]])
    kept = {"alive_here", "mine", "fresh_elsewhere", "not_ours"}
    assert sorted(p.name for p in staging.iterdir()) == sorted(names[k] for k in kept)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_lake_files_get_the_mode_the_umask_gives(tmp_path: Path, umask: int, mode: int) -> None:
    previous = os.umask(umask)
    try:
        target = lake_path(str(tmp_path), KEY, "2024-03-01")
        write_frame_atomic(target, pl.DataFrame({"date": [date(2024, 3, 1)]}))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(target).st_mode) == mode
