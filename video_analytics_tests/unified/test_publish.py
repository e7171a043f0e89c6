"""`video-analytics report` and the mapping-file setting: what happens when something is missing."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from video_analytics import cli
from video_analytics.storage.parquet import lake_path, write_frame_atomic
from video_analytics.unified.conform import CONFORMED_SCHEMA
from video_analytics.unified.resources import CrossPlatformResource


def small_lake(root: str, days: list[str]) -> None:
    """A `video_daily_performance` table of one Wistia video a day, written as the lake writes it."""
    given = {"platform": "wistia", "video_id": "w1", "content_id": "wistia:w1", "views": 3}
    for day in days:
        row = {**given, "date": date.fromisoformat(day)}
        frame = pl.DataFrame([{name: row.get(name) for name in CONFORMED_SCHEMA}], schema=CONFORMED_SCHEMA)
        write_frame_atomic(lake_path(root, ["video_daily_performance"], day), frame)


def test_report_defaults_to_the_latest_day_and_writes_the_html(tmp_path, monkeypatch, capsys):
    small_lake(str(tmp_path / "lake"), ["2026-03-01", "2026-03-02"])
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", str(tmp_path / "lake"))
    monkeypatch.delenv("VIDEO_ANALYTICS_REPORT_DIR", raising=False)
    assert cli.main(["report"]) == 0
    written = tmp_path / "lake" / "reports" / "video_performance_2026-03-02.html"
    assert capsys.readouterr().out.strip() == f"wrote {written}"
    assert "Video performance across platforms, 2026-03-02" in written.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--day", "2026-02-30"], "--day '2026-02-30' is not a date in YYYY-MM-DD form"),
        (["--day", "2026-01-01"], "no partition for that day (the lake holds 2026-03-01..2026-03-01)"),
    ],
)
def test_report_errors_say_what_to_change(tmp_path, monkeypatch, capsys, args, message):
    small_lake(str(tmp_path), ["2026-03-01"])
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", str(tmp_path))
    assert cli.main(["report", *args]) == 2
    assert message in capsys.readouterr().err


def test_report_without_the_table_says_to_run_the_demo(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", str(tmp_path))
    assert cli.main(["report"]) == 2
    assert "run `video-analytics demo` (or materialize video_daily_performance" in capsys.readouterr().err


def test_mapping_file_is_read_and_a_missing_one_names_the_setting(tmp_path):
    path = tmp_path / "videos.yaml"
    path.write_text("nova: {brightcove: '1', dailymotion: x1}\n")
    mapping, source = CrossPlatformResource(lake_root=str(tmp_path), video_mapping=str(path)).mapping()
    assert source == str(path) and sorted(mapping["platform"]) == ["brightcove", "dailymotion"]
    assert CrossPlatformResource(lake_root=str(tmp_path)).mapping()[0].height == 0
    with pytest.raises(FileNotFoundError, match="fix VIDEO_ANALYTICS_VIDEO_MAPPING"):
        CrossPlatformResource(lake_root=str(tmp_path), video_mapping=str(tmp_path / "nope.csv")).mapping()
