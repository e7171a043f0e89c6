"""Helpers to hand-build player-log lines in both formats of the original."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import polars as pl
import pytest

from video_analytics.agora import parsing, stream_walk
from video_analytics.agora.client import lines_frame

T0 = datetime(2024, 3, 1, 12, 0, 0)
LONG_ID = "4f1c2a9e-7b3d-4c55-9a0e-0123456789ab"  # 36 chars: used as the key as-is


def event(seconds: float, event_type: str, **fields) -> tuple[float, dict]:
    """An event `seconds` after T0; default ids and descriptive fields can be overridden (None drops)."""
    base = {
        "x_tracking_id": LONG_ID,
        "x_tpmid": "2365304868",
        "x_client_id": "device-1",
        "component": "Video - Portal",
        "x_episode_title": "Nova Episode 1",
        "x_program_title": "nova",
        "x_producer": "WGBH",
        "x_video_length": "600",
        "x_session_id": "ABC123",
        "x_useragent": "Mozilla/5.0 (X11; Linux)",
        "client_id": "68.184.122.93",
        "source_tag": "cove-jwplayer",
        "event_type": event_type,
    }
    base.update(fields)
    return seconds, {k: v for k, v in base.items() if v is not None}


def text_line(seconds: float, fields: dict) -> str:
    when = T0 + timedelta(seconds=seconds)
    stamp = when.strftime("%Y-%m-%d %H:%M:%S") + f",{when.microsecond // 1000:03d}"
    pairs = " ".join(f'{k}="{v}"' if (" " in v or not v) else f"{k}={v}" for k, v in fields.items())
    return f"{stamp} - Goonhilly [INFO] {pairs}"


def json_line(seconds: float, fields: dict) -> str:
    when = T0 + timedelta(seconds=seconds)
    record = {k: v for k, v in fields.items() if k not in ("client_id", "source_tag", "x_useragent")}
    record["time"] = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    if "client_id" in fields:
        record["remote"] = fields["client_id"]
    if "x_useragent" in fields:
        record["agent"] = fields["x_useragent"]
    if "source_tag" in fields:
        record["path"] = f"/log/{fields['source_tag']}/event"
    return json.dumps(record)


def render(events: list[tuple[float, dict]], fmt: str = "text") -> list[str]:
    return [(json_line if fmt == "json" else text_line)(s, f) for s, f in events]


def parse(lines: list[str] | bytes) -> pl.DataFrame:
    data = lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode()
    frame = lines_frame(data).with_columns(
        pl.lit("test.log").alias("file"), pl.col("line_number").alias("seq")
    )
    return parsing.parse_lines(frame.lazy()).collect()


def sessions(lines: list[str] | bytes) -> pl.DataFrame:
    return stream_walk.parsed_sessions(parse(lines))


def one(events: list[tuple[float, dict]], fmt: str = "text") -> dict:
    frame = sessions(render(events, fmt))
    assert frame.height == 1, frame
    return frame.row(0, named=True)


@pytest.fixture(params=["text", "json"])
def fmt(request) -> str:
    return request.param
