"""`video-analytics export` reads only lake tables and never writes into the lake."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from video_analytics import cli
from video_analytics.storage.parquet import lake_path, write_frame_atomic

DAYS = ["2024-01-01", "2024-01-02"]


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    for day in DAYS:
        frame = pl.DataFrame(
            {"date": [date.fromisoformat(day)] * 2, "channel": ["neo", "research"], "video_view": [3, 4]}
        )
        write_frame_atomic(lake_path(str(root), ["daily_video_metrics"], day), frame)
    secret = tmp_path / "secret" / "date=2024-01-01"
    secret.mkdir(parents=True)
    shutil.copy(root / "daily_video_metrics" / "date=2024-01-01" / "part-0.parquet", secret)
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", str(root))
    return root


def digest(root: Path) -> dict[str, str]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def export(table: str, out: Path | str) -> list[str]:
    return ["export", table, str(out), "--start", DAYS[0], "--end", DAYS[-1]]


OUTSIDE = ["../secret", "daily_video_metrics/../../secret", "/etc", ".staging", "a//b"]


@pytest.mark.parametrize("table", OUTSIDE)
def test_a_table_name_outside_the_lake_is_refused(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str
) -> None:
    out = tmp_path / "out.csv"
    assert cli.main(export(table, out)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"video-analytics export: table {table!r}") and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "target",
    ["daily_video_metrics/date=2024-01-01/part-0.parquet", "daily_video_metrics/date=2024-01-03/x.parquet"],
)
def test_an_output_inside_the_lake_is_refused(
    lake: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    before = digest(lake)
    assert cli.main(export("daily_video_metrics", lake / target)) == 2
    assert "is inside the lake" in capsys.readouterr().err
    assert digest(lake) == before


def test_an_output_through_a_symlink_into_the_lake_is_refused(lake: Path, tmp_path: Path) -> None:
    (tmp_path / "shortcut").symlink_to(lake / "daily_video_metrics")
    before = digest(lake)
    assert (
        cli.main(export("daily_video_metrics", tmp_path / "shortcut" / "date=2024-01-02" / "x.parquet")) == 2
    )
    assert digest(lake) == before


def test_an_export_beside_the_lake_works_and_leaves_no_temp_file(lake: Path, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "neo.parquet"
    out.parent.mkdir()
    assert cli.main([*export("daily_video_metrics", out), "--channel", "neo"]) == 0
    assert pl.read_parquet(out)["video_view"].to_list() == [3, 3]
    assert [p.name for p in out.parent.iterdir()] == ["neo.parquet"]
