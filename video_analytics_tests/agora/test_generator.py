"""The sandbox log generator: deterministic, realistic, noisy on purpose."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

from video_analytics.agora.generator import EVENT_TYPES, file_lines, write_day

DAY = date(2024, 3, 1)


def test_same_inputs_give_the_same_bytes(tmp_path):
    first = write_day(str(tmp_path / "a"), DAY, 3_000, files=2, gzip_files=True)
    second = write_day(str(tmp_path / "b"), DAY, 3_000, files=2, gzip_files=True)
    for one, two in zip(first, second, strict=True):
        assert Path(one).read_bytes() == Path(two).read_bytes()
    assert [p.rsplit("/", 1)[-1] for p in first] == ["player-000-text.log.gz", "player-001-json.log.gz"]
    assert gzip.decompress(Path(first[1]).read_bytes()).startswith(b'{"time":"2024-03-01T')


def test_lines_cover_every_event_type_and_the_noise():
    lines = list(file_lines(DAY, 7, 0, 2_000, "text"))
    text = "\n".join(lines)
    for event_type in (*EVENT_TYPES, "MediaError"):
        assert f"event_type={event_type} " in text
    assert "x_after_seek=true" in text and 'x_episode_title=""' in text
    assert any(line.startswith("not-a-date") for line in lines)  # corrupt
    assert any("x_tracking_id=" not in line and "event_type=" in line for line in lines)  # keyless
    assert any(len(line.split("x_tracking_id=")[-1].split(" ")[0]) < 30 for line in lines)  # legacy ids
    stamps = [line[:23] for line in lines if " - Goonhilly [INFO] " in line and line[:4] == "2024"]
    assert stamps == sorted(stamps)  # time-ordered like a server log
