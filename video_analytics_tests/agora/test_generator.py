"""The sandbox log generator: deterministic, realistic, noisy on purpose."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest

from video_analytics.sandbox.agora.generator import EVENT_TYPES, PORTAL_ONLY, LineMix, file_lines, write_day

DAY = date(2024, 3, 1)


def test_same_inputs_give_the_same_bytes(tmp_path):
    first = write_day(str(tmp_path / "a"), DAY, 3_000, files=2, gzip_files=True)
    second = write_day(str(tmp_path / "b"), DAY, 3_000, files=2, gzip_files=True)
    for one, two in zip(first, second, strict=True):
        assert Path(one).read_bytes() == Path(two).read_bytes()
    assert [p.rsplit("/", 1)[-1] for p in first] == ["player-000-text.log.gz", "player-001-json.log.gz"]
    assert gzip.decompress(Path(first[1]).read_bytes()).startswith(b'{"time":"2024-03-01T')


def test_lines_cover_every_event_type_and_the_noise():
    lines = list(file_lines(DAY, 7, 0, 2_000, "text", PORTAL_ONLY))
    text = "\n".join(lines)
    for event_type in (*EVENT_TYPES, "MediaError"):
        assert f"event_type={event_type} " in text
    assert "x_after_seek=true" in text and 'x_episode_title=""' in text
    assert any(line.startswith("not-a-date") for line in lines)  # corrupt
    assert any("x_tracking_id=" not in line and "event_type=" in line for line in lines)  # keyless
    assert any(len(line.split("x_tracking_id=")[-1].split(" ")[0]) < 30 for line in lines)  # legacy ids
    stamps = [line[:23] for line in lines if " - Goonhilly [INFO] " in line and line[:4] == "2024"]
    assert stamps == sorted(stamps)  # time-ordered like a server log


def _keyless_share(lines: list[str]) -> float:
    keyed = sum(" x_tracking_id=" in line and " x_tpmid=" in line for line in lines)
    return 1 - keyed / len(lines)


def test_the_default_mix_is_the_public_samples():
    """73% keyless lines (3,659 of the GoonHilly sample's 5,000), the apps' own key orders and shapes."""
    lines = list(file_lines(DAY, 7, 0, 3_000, "text"))
    assert 0.70 < _keyless_share(lines) < 0.76
    ios = [line for line in lines if "source_tag=cove-mobile-kids-ios" in line]
    assert ios and all("x_tracking_id=" not in line for line in ios)
    assert any(' event_type="Playback started" ' in line for line in ios)  # quoted prose event types
    payloads = [line.split("] ", 1)[-1] for line in lines]
    assert any(p.startswith("x_client_id=") and "kids-android" in p for p in payloads)  # android order
    assert any(p.startswith("source_tag=ga-roku") for p in payloads)  # a key twice
    assert any(" x_stream_size= " in line for line in lines)  # bare empty values
    assert any(not line.isascii() for line in lines)


def test_the_mix_can_be_set():
    portal = list(file_lines(DAY, 7, 0, 1_000, "text", PORTAL_ONLY))
    assert _keyless_share(portal) < 0.02
    half = list(file_lines(DAY, 7, 0, 1_000, "text", LineMix(keyless_app=0.5, android_app=0)))
    assert 0.44 < _keyless_share(half) < 0.56
    with pytest.raises(ValueError, match="apps sum to at most 1"):
        LineMix(keyless_app=0.8, android_app=0.3)


def test_json_variants_fluentd_wrote():
    lines = list(file_lines(DAY, 7, 1, 2_000, "json", LineMix(json_variants=0.3)))
    assert any(', "' in line for line in lines)  # separators with spaces
    assert any('"x_video_location":' in line and '"x_video_location":"' not in line for line in lines)
    assert any('\\"' in line for line in lines)  # an escaped quote
