"""The throughput paths give exactly the general answers: the fast text path (per-key searches, exact
timestamp format, descriptive fields read lazily) equals the general tokeniser and hands it the lines
where it could not; the walk never crosses streams; the reader cuts blocks at line ends."""

from __future__ import annotations

import gzip
import io

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from video_analytics.agora import client, parsing, stream_events
from video_analytics.agora.client import _line_blocks, lines_frame

from .conftest import LONG_ID, event, parse, render, sessions

BASE = render([event(1.5, "MediaStarted", x_video_location="12")])[0]
TRICKY = [
    BASE,
    BASE + " x_tpmid=42 x_video_location=7",  # repeated keys: the last one wins
    BASE.replace('x_episode_title="', 'x_episode_title="oops x_tpmid=999 event_type=MediaEnded '),
    BASE.replace('component="', 'component="x_auto=true '),
    BASE.replace(" x_tpmid=", ' x_tpmid=""', 1),
    BASE.replace(" x_video_location=12", ' x_video_location="12', 1),
    BASE.replace(" x_video_location=12", ' x_video_location=12""', 1),
    BASE.replace(" x_video_location=12", " x_video_location=", 1),
    BASE.replace(" ", "\t", 3),
    BASE + "\r",
    BASE.replace(" x_tracking_id=", " x_tracking_id=\u00a0", 1),
    BASE.replace(",", ".", 1),
    BASE[:10] + "T" + BASE[11:],
    BASE[:19] + ",4x" + BASE[22:],
    BASE[:19] + ",12" + BASE[23:],
    BASE[:19] + BASE[23:],
    BASE.replace("[INFO] ", "[INFO]", 1),
    "2024-03-01 12:00:01,500 - Goonhilly [INFO] event_type=MediaStarted",
]


def _reference(lines: list[str]) -> pl.DataFrame:
    """Every text field through the general tokeniser."""
    frame = pl.DataFrame({"line": lines})
    tokens = parsing._key_value_tokens(pl.col("line")).alias("_tokens")
    values = [parsing._token_value(pl.col("_tokens"), key).alias(key) for key in parsing.TEXT_KEYS]
    return frame.with_columns(tokens).select(values)


def test_per_key_search_equals_the_tokeniser_on_fast_path_lines():
    frame = pl.DataFrame({"line": TRICKY})
    line = pl.col("line")
    fast = frame.select(
        parsing._logger_timestamp(line).is_not_null() & ~line.str.contains(parsing._KEY_IN_QUOTES)
    ).to_series()
    eligible = [text for text, ok in zip(TRICKY, fast, strict=True) if ok]
    assert 0 < len(eligible) < len(TRICKY)  # both paths are exercised
    got = pl.DataFrame({"line": eligible}).select(
        parsing.text_value(line, key).alias(key) for key in parsing.TEXT_KEYS
    )
    assert_frame_equal(got, _reference(eligible))


def test_tricky_lines_parse_as_the_tokeniser_reads_them():
    parsed = parse(TRICKY).sort("seq")
    reference = _reference(TRICKY)
    for name, keys in parsing.TEXT_FIELDS.items():
        expected = reference.select(pl.coalesce(keys) if len(keys) > 1 else pl.col(keys[0])).to_series()
        assert parsed[name].to_list() == expected.to_list(), name
    assert parsed["tpmid"].to_list()[:3] == ["2365304868", "42", "2365304868"]
    assert parsed["title"][2].startswith("oops x_tpmid=999")
    assert parsed["location_raw"][1] == "7"
    assert parsed["ts"][0] == parsed["ts"][9]  # exact format and the general one agree
    assert parsed["ts"][13] is not None and parsed["ts"][13].microsecond == 0  # ",4x": no millis


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("title_first", [True, False])
def test_lazy_descriptive_fields_equal_eager(title_first, fmt):
    events = [
        event(0, "MediaInitialBufferStart", x_episode_title="" if not title_first else "First"),
        event(1, "MediaStarted", x_episode_title="Later", x_producer=None),
        event(2, "MediaEnded", x_tracking_id="short", x_session_id="XyZ"),
        event(3, "MediaStarted", x_tracking_id="short", x_session_id="Other", x_tpmid="9"),
    ]
    data = ("\n".join(render(events, fmt)) + "\n").encode()
    lines = lines_frame(data).with_columns(pl.lit("t.log").alias("file"), pl.col("line_number").alias("seq"))

    def attributes(describe: bool) -> pl.DataFrame:
        parsed = parsing.parse_lines(lines.lazy(), describe=describe).collect()
        return stream_events.attributes_frame(stream_events.keyed_frame(parsed.lazy())).collect()

    lazy, eager = attributes(False), attributes(True)
    assert_frame_equal(lazy, eager)
    row = lazy.filter(pl.col("key") == LONG_ID).row(0, named=True)
    assert row["title"] == ("First" if title_first else "Later")
    assert (row["source"], row["client_id"]) == ("cove-jwplayer", "68.184.122.93")
    assert lazy.height == 3


def test_buffering_pairs_never_cross_streams():
    """The walk pairs a buffering End with the previous row of the key-sorted frame only when it is
    the same stream: stream A's trailing Start must not pair with stream B's leading End."""
    other = "ffffffff-7b3d-4c55-9a0e-0123456789ab"
    lines = render(
        [
            event(0, "MediaStarted"),
            event(1, "MediaBufferingStart", x_video_location="5"),
            event(2, "MediaStarted", x_tracking_id=other, x_video_location="5"),
            event(3, "MediaBufferingEnd", x_tracking_id=other, x_video_location="5"),
            event(4, "MediaEnded", x_tracking_id=other, x_video_location="5"),
        ]
    )
    frame = sessions(lines).sort("key")
    assert frame["key"].to_list() == [LONG_ID, other]
    first, second = frame.rows(named=True)
    assert (first["rebuffer_count"], first["buffering_events"], first["buffering_length"]) == (1, 0, None)
    assert (second["rebuffer_count"], second["buffering_events"]) == (0, 1)
    assert (second["buffering_length"], second["rebuffer_duration"]) == (None, 0.0)
    assert (first["playing_duration"], second["playing_duration"]) == (None, 2.0)


@pytest.mark.parametrize("payload", [b"", b"a\nb\nc", b"a\nb\nc\n", b"x" * 100 + b"\ny", b"\n\n\n", b"abc"])
@pytest.mark.parametrize("compressed", [False, True])
def test_reader_blocks_are_whole_lines_and_lose_nothing(payload, compressed):
    for block_bytes in (1, 2, 3, 7, 1000):
        data = gzip.compress(payload) if compressed else payload
        handle = gzip.GzipFile(fileobj=io.BytesIO(data)) if compressed else io.BytesIO(data)
        blocks = list(_line_blocks(handle, block_bytes))
        assert b"".join(blocks) == payload
        assert all(block.endswith(b"\n") for block in blocks[:-1]) and all(blocks)


PAYLOADS = [
    b"",
    b"a\nb\nc",
    b"a\nb\nc\n",
    b"x" * 100 + b"\ny",
    b"\n\n\n",
    b"abc",
    b"x" * 70_000 + b"\n" + b"y\n" * 9,
]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("name", ["plain.log", "packed.log.gz"])
def test_file_chunks_are_whole_lines_and_lose_nothing(tmp_path, monkeypatch, payload, name):
    """Plain local files are read as views of memory maps (windows of block + slack bytes, a line
    longer than a window is streamed), others through fsspec: the same bytes either way."""
    monkeypatch.setattr(client, "MAP_SLACK", 16)
    (tmp_path / name).write_bytes(gzip.compress(payload) if name.endswith(".gz") else payload)
    for block_bytes in (1, 3, 7, 1000, 100_000):
        reader = client.LogReader(str(tmp_path), block_bytes=block_bytes)
        chunks = [bytes(chunk) for chunk in reader.chunks(str(tmp_path / name))]
        assert b"".join(chunks) == payload
        assert all(chunk.endswith(b"\n") for chunk in chunks[:-1]) and all(chunks)
        assert reader.counters.bytes_read == len(payload)


SIMPLE_JSON = '{"time":"2024-03-01T12:00:01.500Z","path":"/log/cove-videojs/event","remote":"1.2.3.4",' + (
    '"x_tracking_id":"' + LONG_ID + '","x_tpmid":"7","event_type":"MediaStarted","x_video_location":"12"}'
)
JSON_LINES = [
    SIMPLE_JSON,
    SIMPLE_JSON.replace('"x_tpmid":"7"', '"x_tpmid":"7","x_tpmid":"8"'),  # the last of repeated keys
    SIMPLE_JSON.replace('"x_tpmid":"7"', '"x_tpmid":""'),
    SIMPLE_JSON.replace('"x_video_location":"12"', '"x_episode_title":"Épisode {un} [2], a:b"'),
    SIMPLE_JSON.replace('"time":"2024-03-01T12:00:01.500Z"', '"time":"1709294401.5"'),
    SIMPLE_JSON.replace('"time":"2024-03-01T12:00:01.500Z"', '"time":"yesterday"'),
    SIMPLE_JSON.replace('"path":"/log/cove-videojs/event"', '"path":"/log"'),
    SIMPLE_JSON.replace("{", "{}"),  # not simple from here on: the general reader decides
    SIMPLE_JSON.replace('"x_tpmid":"7"', '"x_tpmid":7'),
    SIMPLE_JSON.replace('"time":"2024-03-01T12:00:01.500Z"', '"time":1709294401.5'),
    SIMPLE_JSON.replace('"x_tpmid":"7"', '"x_tpmid":"7\\"8"'),
    SIMPLE_JSON.replace('"x_tpmid":"7"', '"x_tpmid":"\\u0037"'),
    SIMPLE_JSON.replace('"x_tpmid":"7"', '"o":{"x_tpmid":"9"},"x_tpmid":"7"'),
    SIMPLE_JSON.replace('"x_tpmid":"7"', '"x_tpmid":"7\t"'),  # a raw tab: invalid JSON
    SIMPLE_JSON.replace(",", ", "),
    SIMPLE_JSON[:-1],
]


def test_simple_json_lines_read_as_the_json_parser_reads_them():
    """Flat objects of plain strings are read by a regex per key; everything else by json_path_match."""
    frame = pl.DataFrame({"line": JSON_LINES})
    simple = frame.select(pl.col("line").str.contains(parsing._PLAIN_JSON)).to_series().to_list()
    assert simple == [True] * 7 + [False] * (len(JSON_LINES) - 7)
    lazy = frame.filter(pl.Series(simple)).lazy()
    assert_frame_equal(parsing._parse_json(lazy, plain=True).collect(), parsing._parse_json(lazy).collect())
    # and whole days: the JSON format gives the sessions of the text format
    assert_frame_equal(sessions([JSON_LINES[0]]), sessions([JSON_LINES[0].replace("{", "{ ", 1)]))
