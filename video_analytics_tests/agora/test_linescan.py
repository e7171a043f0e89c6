"""The native scanner gives exactly the polars parser's answers: line by line on hand-made edge cases
and on random lines, and for a whole generated day (sessions, rejects, counters)."""

from __future__ import annotations

import random
from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from video_analytics.agora import _linescan, engine, linescan, transforms
from video_analytics.agora.client import LogReader, lines_frame
from video_analytics.sandbox.agora.generator import write_day

from .conftest import event, render
from .test_fast_path import JSON_LINES, SIMPLE_JSON, TRICKY

BASE = render([event(1.5, "MediaStarted", x_video_location="12", x_buffering_length="40")])[0]
SHORT = render([event(2, "MediaEnded", x_tracking_id="short-id", x_tpmid="77")])[0]
EDGE_CASES = [
    *TRICKY,
    SHORT,
    BASE.replace("x_video_location=12", "x_video_location=-0.25"),
    BASE.replace("x_video_location=12", "x_video_location=1e3"),  # not plain: polars decides
    BASE.replace("x_video_location=12", "x_video_location=.5"),
    BASE.replace("x_video_location=12", "x_video_location=12345678901234567890.123"),
    BASE.replace("x_video_location=12", "x_video_location=0.1000000000000000055511151231257827"),
    BASE.replace("x_buffering_length=40", "x_buffering_length=-40"),  # bad data
    BASE.replace("x_buffering_length=40", 'x_buffering_length=" 40 "'),
    BASE.replace("x_buffering_length=40", "x_buffering_length=4x"),
    BASE.replace("x_buffering_length=40", "x_buffering_length=0040"),
    BASE + " x_after_seek=TRUE x_auto=True",
    BASE + " x_after_seek=truex x_auto=1",
    BASE + ' x_auto="true"',
    BASE.replace(" x_tracking_id=", " x_tracking_id=", 1).replace("x_tpmid=2365304868", "x_tpmid="),
    BASE.replace(" x_tpmid=2365304868", ""),  # keyless
    BASE.replace('x_episode_title="Nova Episode 1"', 'x_episode_title="Épisode un"'),
    BASE.replace('x_episode_title="Nova Episode 1"', 'x_encoding="a x_tpmid=5 b"'),
    BASE.replace('x_episode_title="Nova Episode 1"', 'x_episode_title="unclosed'),
    BASE.replace('x_episode_title="Nova Episode 1"', 'x_episode_title=tail"'),
    BASE.replace('x_episode_title="Nova Episode 1"', 'x_episode_title=""'),
    BASE.replace('x_episode_title="Nova Episode 1"', 'x_episode_title="a"b x_producer=PBS'),
    BASE.replace('x_useragent="', 'x_user_agent="'),
    BASE.replace("event_type=", "event_type=Media\x7fStarted "),
    BASE.replace("event_type=MediaStarted", "event_type="),
    BASE + " " + "x" * 5000,  # longer than the scanner's line limit
    "2024-02-29 23:59:59,999 - Goonhilly [INFO]" + BASE[42:],  # leap day
    "2023-02-29 23:59:59,999 - Goonhilly [INFO]" + BASE[42:],  # no such day
    "2024-03-01 12:00:60,000 - Goonhilly [INFO]" + BASE[42:],
    "2024-03-01 24:00:00,000 - Goonhilly [INFO]" + BASE[42:],
    "1899-12-31 23:59:59,000 - Goonhilly [INFO]" + BASE[42:],
    BASE.replace("] ", "]", 1).replace("x_client_id", " x_client_id", 1),
    # a pair before the payload counts too
    BASE.replace(" [INFO]", " x_program_title=prefix [INFO]", 1).replace(" x_program_title=nova", ""),
    "",
    " ",
    "2024-03-01 12:00:01,500",
    '{"time": "2024-03-01T12:00:00.000Z", "x_tracking_id": "abc", "x_tpmid": "1"}',
]


JSON = SIMPLE_JSON.replace('"x_video_location":"12"', '"x_video_location":"12","x_buffering_length":"40"')
JSON_EDGE_CASES = [
    *JSON_LINES,
    JSON.replace('"time":"2024-03-01T12:00:01.500Z"', '"time":"2024-03-01T12:00:01.500"'),
    JSON.replace('"time":"2024-03-01T12:00:01.500Z"', '"time":"2024-03-01 12:00:01,500"'),
    JSON.replace('"time":"2024-03-01T12:00:01.500Z"', '"time":"2024-03-01T12:00:01Z"'),
    JSON.replace('"time":"2024-03-01T12:00:01.500Z"', '"time":"2024-02-30T12:00:01.500Z"'),
    JSON.replace('"time":"2024-03-01T12:00:01.500Z"', '"time":"2024-03-01T12:00:01.5x0Z"'),
    JSON.replace('"time":"2024-03-01T12:00:01.500Z"', '"time":"2024-03-01T12:00:01.500Zz"'),
    JSON.replace('"/log/cove-videojs/event"', '"/log/cove-videojs"'),
    JSON.replace('"/log/cove-videojs/event"', '"log/cove-videojs/event"'),
    JSON.replace('"/log/cove-videojs/event"', '"/log//event"'),
    JSON.replace('"/log/cove-videojs/event"', '"//x/"'),
    JSON.replace('"/log/cove-videojs/event"', '""').replace("{", '{"source_tag":"tag",', 1),
    JSON.replace("{", '{"x_useragent":"ua1","x_user_agent":"ua2",', 1),
    JSON.replace("{", '{"x_user_agent":"ua2","agent":"ua0",', 1),
    JSON.replace("{", '{"client_id":"ignored in JSON",', 1),
    JSON.replace('"remote":"1.2.3.4"', '"remote":""'),
    JSON.replace('"x_tpmid":"7"', '"x_tpmid":"7","x_tracking_id":"short"'),
    JSON.replace(',"x_tpmid":"7"', ""),  # keyless
    JSON.replace('"x_buffering_length":"40"', '"x_buffering_length":"-40"'),  # bad data
    JSON.replace('"x_buffering_length":"40"', '"x_buffering_length":"4.5"'),
    JSON.replace('"x_video_location":"12"', '"x_video_location":"1e3"'),
    JSON.replace('"x_video_location":"12"', '"x_after_seek":"TRUE","x_auto":"true"'),
    JSON.replace('"event_type":"MediaStarted"', '"event_type":"MediaError"'),
    JSON.replace('"event_type":"MediaStarted"', '"event_type":""'),
    JSON.replace("Started", "Démarré"),
    JSON + " ",
    "{}",
    '{"":""}',
    '{"time":"2024-03-01T12:00:01.500Z"}',
]


def _native_and_polars(lines: list[str]) -> tuple[linescan.ScannedBlock, pl.DataFrame]:
    data = ("\n".join(lines) + "\n").encode()
    frame = lines_frame(data).with_columns(
        pl.lit("t.log").alias("file"), (pl.col("line_number") - 1).alias("seq")
    )
    return linescan.scan(data), transforms.parse_lines(frame.lazy()).collect()


def assert_same_answers(lines: list[str]) -> int:
    """Every line is scanned or handed back, and a scanned line reads as polars reads it; returns how
    many lines were scanned."""
    scanned, parsed = _native_and_polars(lines)
    fast, slow = scanned.events["seq"], scanned.slow.seq
    handed_back = linescan.slow_lines_frame([scanned.placed("t.log", 1, 0).slow])
    assert handed_back["line_number"].to_list() == [i + 1 for i in slow]
    assert scanned.lines == parsed.height == len(lines)
    keyless = scanned.keyless
    assert sorted([*fast, *slow, *keyless]) == list(range(len(lines)))
    assert handed_back["line"].to_list() == [parsed.sort("seq")["line"][i] for i in slow]
    # scanned lines are valid events, keyless lines the parser's keyless rejects; others left to polars
    assert parsed.filter(pl.col("seq").is_in(fast.implode()))["reject_reason"].null_count() == fast.len()
    reasons = parsed.filter(pl.col("seq").is_in(keyless.implode()))["reject_reason"]
    assert reasons.to_list() == [transforms.KEYLESS_REASON] * keyless.len()
    expected = transforms.events_frame(transforms.keyed_frame(parsed).lazy()).collect()
    expected = expected.filter(pl.col("seq").is_in(fast.implode()))
    # events number their streams into the block's keys, distinct and in order of appearance
    keys = scanned.keys
    assert (
        keys.n_unique() == keys.len()
        and keys.to_list() == expected["key"].unique(maintain_order=True).to_list()
    )
    events = scanned.events.select(keys.gather(scanned.events["stream"]), pl.exclude("stream"))
    assert_frame_equal(events.sort("seq"), expected.sort("seq"), categorical_as_str=True)
    # the attribute rows carry each line's own values, and there is one for each stream at least
    rows = scanned.attributes
    truth = parsed.select("seq", "tracking_id", *transforms.DESCRIBING)
    assert_frame_equal(
        rows.select(truth.columns),
        truth.join(rows.select("seq"), on="seq", how="semi").sort("seq"),
    )
    assert sorted(rows["key"].unique()) == sorted(keys)
    return fast.len()


def test_the_scanner_is_built_here():
    """CI builds it (setup.py); without it the engine silently falls back to the slower parser."""
    assert linescan.available()


def test_scanner_reads_the_same_keys_as_the_polars_parser():
    assert set(_linescan.KEYS) == set(transforms.TEXT_KEYS)
    json_keys = {key for keys in transforms.JSON_FIELDS.values() for key in keys} | {"time", "path"}
    assert set(_linescan.JSON_KEYS) == json_keys | set(transforms.TEXT_KEYS)
    assert _linescan.DESCRIBING == transforms.DESCRIBING
    assert _linescan.SHORT_TRACKING_ID == transforms.SHORT_TRACKING_ID


@pytest.mark.parametrize(
    ("cases", "scanned_over", "handed_back_over"),
    [(EDGE_CASES, 20, 15), (JSON_EDGE_CASES, 15, 10)],
    ids=["text", "json"],
)
def test_edge_cases_read_as_the_polars_parser_reads_them(cases, scanned_over, handed_back_over):
    scanned = assert_same_answers(cases)
    assert scanned_over < scanned < len(cases) - handed_back_over  # both paths are exercised


@pytest.mark.parametrize("line", [*EDGE_CASES, *JSON_EDGE_CASES])
def test_each_edge_case_alone(line):
    assert_same_answers([line])


def _random_line(rng: random.Random) -> str:
    keys = [*transforms.TEXT_KEYS, "x_stream_size", "ua_family", "x_flash_player"]
    values = ["", "1", "-3", "0.5", "12.", "true", "TRUE", '"', '""', '"a b"', '"a', 'b"', "x=y", "é", "a\tb"]
    pairs = []
    for _ in range(rng.randint(0, 14)):
        key = rng.choice(keys)
        value = rng.choice(values) if rng.random() < 0.5 else f"{rng.randint(0, 99999)}"
        if rng.random() < 0.1:
            value = f'"{value} {rng.choice(keys)}={rng.choice(values)}"'
        pairs.append(f"{key}={value}")
    if rng.random() < 0.8:
        pairs += [
            f"x_tracking_id={rng.choice(['t1', 't2', 'a' * 31, 'a' * 29])}",
            f"x_tpmid={rng.randint(1, 3)}",
        ]
    rng.shuffle(pairs)
    hour, minute, millis = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 999)
    stamp = f"2024-03-01 {hour:02d}:{minute:02d}:{minute:02d},{millis:03d}"
    return f"{stamp} - Goonhilly [INFO] {' '.join(pairs)}".rstrip(" " if rng.random() < 0.5 else "")


def _random_json_line(rng: random.Random) -> str:
    keys = [*transforms.TEXT_KEYS, *_linescan.JSON_KEYS, "x_stream_size", "o"]
    values = [
        "",
        "1",
        "-3",
        "0.5",
        "true",
        "TRUE",
        "/log/a/b",
        "/",
        "a b",
        "x=y",
        "{",
        "2024-03-01T12:00:01.500Z",
    ]
    pairs = [(rng.choice(keys), rng.choice(values)) for _ in range(rng.randint(0, 12))]
    if rng.random() < 0.8:
        pairs += [("x_tracking_id", rng.choice(["t1", "a" * 31])), ("x_tpmid", str(rng.randint(1, 3)))]
        pairs += [("time", rng.choice(["2024-03-01T12:00:01.500Z", "2024-03-01T23:59:59.999Z", "x"]))]
    rng.shuffle(pairs)
    line = "{" + ",".join(f'"{key}":"{value}"' for key, value in pairs) + "}"
    return line.replace(":", ": ", 1) if rng.random() < 0.05 else line


@pytest.mark.parametrize(
    ("make_line", "count", "scanned_over"),
    [(_random_line, 3000, 1000), (_random_json_line, 2000, 500)],
    ids=["text", "json"],
)
def test_random_lines_read_as_the_polars_parser_reads_them(make_line, count, scanned_over):
    rng = random.Random(20261124)
    assert assert_same_answers([make_line(rng) for _ in range(count)]) > scanned_over


def test_block_edges():
    """No trailing newline, blank lines only, an empty block."""
    scanned = linescan.scan((BASE + "\n" + SHORT).encode())
    assert (scanned.lines, scanned.events.height) == (2, 2)
    scanned = linescan.scan(b"\n\n\n")
    assert (scanned.lines, scanned.events.height, scanned.slow.text) == (3, 0, b"\n\n\n")
    scanned = linescan.scan(b"")
    assert (scanned.lines, scanned.events.height, scanned.attributes.height) == (0, 0, 0)


def test_custom_field_values_are_read_in_the_same_pass_one_row_per_event():
    """Quoted, bare, repeated (the last wins), empty (null), absent, and JSON; keyless lines give none."""
    lines = [
        BASE + ' x_stream_size="1172, 391" x_bandwidth=900',
        BASE + " x_bandwidth=1 x_bandwidth=2 x_stream_size=",
        BASE.replace(" x_tpmid=2365304868", "") + " x_bandwidth=7",  # keyless: not an event
        SHORT,
        '{"time":"2024-03-01T12:00:00.000Z","x_tracking_id":"abcdefabcdefabcdefabcdefabcdefab",'
        '"x_tpmid":"1","x_bandwidth":"55"}',
    ]
    scanned = linescan.scan("\n".join(lines).encode(), ("x_bandwidth", "x_stream_size"))
    assert scanned.events["seq"].to_list() == [0, 1, 3, 4]
    assert scanned.field_values.rows() == [("900", "1172, 391"), ("2", None), (None, None), ("55", None)]
    assert linescan.scan(BASE.encode()).field_values is None


def test_a_day_through_the_scanner_equals_the_polars_parser(tmp_path, monkeypatch):
    """Both formats, corrupt lines, short ids, several blocks and batches of handed-back lines."""
    write_day(str(tmp_path), date(2024, 3, 1), 6000, files=3)
    reader = LogReader(str(tmp_path), block_bytes=200_000)
    monkeypatch.setattr(engine, "SLOW_BATCH_LINES", 500)
    native = engine.analyse_day(reader, date(2024, 3, 1))
    monkeypatch.setattr(linescan, "_linescan", None)
    polars_only = engine.analyse_day(LogReader(str(tmp_path), block_bytes=200_000), date(2024, 3, 1))
    assert native.counters() == polars_only.counters()
    assert native.counters()["unparsable_events"] > 0
    assert_frame_equal(native.sessions.sort("key"), polars_only.sessions.sort("key"))
    # keyless rejects come with their block, the others with their batch: the same rows
    in_file_order = ["file", "line_number"]
    assert_frame_equal(native.rejects.sort(in_file_order), polars_only.rejects.sort(in_file_order))
