"""`video-analytics export`: the original Agora job's `key<TAB>json` lines, and date filters of tables
that are not partitioned by day (cms_videos)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from video_analytics import cli
from video_analytics.agora.client import LogReader
from video_analytics.agora.engine import analyse_day
from video_analytics.storage.parquet import lake_path
from video_analytics_tests.agora.conftest import LONG_ID, event, render

DAY = date(2024, 3, 1)
#: The original's output fields, in its order (v0.3.0's client_id and master's user_agent).
ORIGINAL_FIELDS = [
    "tracking_id", "media_id", "earliest_time", "latest_time", "incomplete_stream", "finished_playback",
    "first_event_type", "last_event_type", "buffer_start_events", "playing_duration", "source",
    "component", "auto_bitrate", "client_id", "user_agent", "title", "session_id", "video_length",
    "position_earliest_play", "buffering_events", "buffering_length", "initial_buffering_length",
    "auto_bitrate_events", "user_bitrate_events", "isp_name", "geo_city", "geo_longitude",
    "geo_latitude", "geo_postal_code", "geo_metro_code", "geo_country_code", "geo_country_name",
]  # fmt: skip


@pytest.fixture
def lake(tmp_path, monkeypatch) -> Path:
    """A lake with one day of agora_session_stats (two streams) and an unpartitioned cms_videos."""
    logs = tmp_path / "logs" / DAY.isoformat()
    logs.mkdir(parents=True)
    lines = render(
        [
            event(0, "MediaStarted", x_video_location="0"),
            event(90.5, "MediaCompleted", x_video_location="600"),
            event(3, "MediaStarted", x_tracking_id="777", x_episode_title="C:\\nova\t tab"),
        ]
    )
    (logs / "a.log").write_text("\n".join(lines) + "\n")
    sessions = analyse_day(LogReader(str(tmp_path / "logs")), DAY).sessions
    root = tmp_path / "data"
    target = Path(lake_path(str(root), ["agora_session_stats"], DAY.isoformat()))
    target.parent.mkdir(parents=True)
    sessions.write_parquet(target)
    created = [
        datetime(2023, 12, 31, 23, tzinfo=UTC),
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2025, 6, 1, tzinfo=UTC),
    ]
    cms = pl.DataFrame({"id": ["a", "b", "c"], "created_at": created})
    for table, frame in (("cms_videos", cms), ("wistia_dim_media", cms.drop("created_at"))):
        path = Path(lake_path(str(root), [table], None))
        path.parent.mkdir(parents=True)
        frame.write_parquet(path)
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", str(root))
    return root


def export(*args: str) -> int:
    return cli.main(["export", *args])


def test_agora_jsonl_is_the_original_key_tab_json_format(lake, tmp_path):
    out = tmp_path / "agora.out"
    args = ["agora_session_stats", str(out), "--start", "2024-03-01", "--end", "2024-03-01"]
    assert export(*args, "--format", "agora-jsonl") == 0
    rows = {}
    for line in out.read_text().splitlines():
        key, value = line.split("\t")
        rows[json.loads(key)] = json.loads(value)
    assert sorted(rows) == sorted([LONG_ID, "777-2365304868"])
    stream = rows[LONG_ID]
    assert list(stream) == ORIGINAL_FIELDS
    assert stream["earliest_time"] == "2024-03-01 12:00:00" and stream["latest_time"] == "2024-03-01 12:01:30"
    assert (stream["playing_duration"], stream["finished_playback"], stream["incomplete_stream"]) == (
        90.5,
        True,
        False,
    )
    assert (stream["media_id"], stream["client_id"], stream["video_length"]) == (
        "2365304868",
        "68.184.122.93",
        "600",
    )
    assert stream["geo_city"] is None
    assert rows["777-2365304868"]["title"] == "C:\\nova\t tab"  # escaped: still one line, one tab


def test_agora_jsonl_is_refused_for_other_tables(lake, tmp_path, capsys):
    args = ["cms_videos", str(tmp_path / "x.out"), "--start", "2024-01-01", "--end", "2024-12-31"]
    assert export(*args, "--format", "agora-jsonl") == 2
    assert "--format agora-jsonl writes agora_session_stats only" in capsys.readouterr().err


def test_cms_videos_export_keeps_the_videos_created_in_the_range(lake, tmp_path):
    out = tmp_path / "cms.csv"
    assert export("cms_videos", str(out), "--start", "2024-01-01", "--end", "2024-12-31") == 0
    assert pl.read_csv(out)["id"].to_list() == ["b"]


def test_an_undated_unpartitioned_table_refuses_a_date_range(lake, tmp_path, capsys):
    out = tmp_path / "media.csv"
    assert export("wistia_dim_media", str(out), "--start", "2024-01-01", "--end", "2024-12-31") == 2
    assert "wistia_dim_media is not partitioned by day and has no date column" in capsys.readouterr().err
    assert not out.exists()
