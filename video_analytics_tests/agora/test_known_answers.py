"""Hand-built sessions with known answers for every field; each original defect shows its fix."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from video_analytics.agora import parsing, stream_walk, video_stats
from video_analytics.export import AGORA_FIELDS
from video_analytics_tests.agora.conftest import LONG_ID, T0, event, one, parse, render, sessions

FULL = [
    event(0, "MediaInitialBufferStart", x_video_location="0"),
    event(2.5, "MediaInitialBufferEnd", x_video_location="0", x_buffering_length="2500"),
    event(2.5, "MediaStarted", x_video_location="0"),
    event(62.5, "MediaBufferingStart", x_video_location="60", x_after_seek="false"),
    event(65.5, "MediaBufferingEnd", x_video_location="60", x_after_seek="false", x_auto="true"),
    event(100, "MediaScrub", x_video_location="300"),
    event(100, "MediaBufferingStart", x_video_location="300", x_after_seek="true"),
    event(101, "MediaBufferingEnd", x_video_location="300", x_after_seek="true"),
    event(150, "MediaQualityChangeAuto", x_auto="true"),
    event(160, "MediaQualityChange", x_auto="false"),
    event(200, "MediaEnded", x_video_location="397.5"),
    event(260, "MediaStarted", x_video_location="397.5"),
    event(462.5, "MediaCompleted", x_video_location="600"),
]

FULL_EXPECTED = {
    "key": LONG_ID,
    "tracking_id": LONG_ID,
    "media_id": "2365304868",
    "earliest_time": datetime(2024, 3, 1, 12, 0, 0),
    "latest_time": datetime(2024, 3, 1, 12, 7, 42, 500000),
    "incomplete_stream": False,
    "finished_playback": True,
    "first_event_type": "MediaInitialBufferStart",
    "last_event_type": "MediaCompleted",
    "buffer_start_events": 2,
    "playing_duration": 402.5,  # 0 -> 200 and 260 -> 462.5
    "source": "cove-jwplayer",
    "component": "Video - Portal",
    "auto_bitrate": True,
    "client_id": "68.184.122.93",
    "user_agent": "Mozilla/5.0 (X11; Linux)",
    "title": "Nova Episode 1",
    "session_id": "abc123",  # lower-cased, as the original does
    "video_length": "600",
    "position_earliest_play": 0.0,
    "position_latest_play": 600.0,
    "buffering_events": 1,  # the seek stall is not rebuffering
    "buffering_length": 3.0,
    "initial_buffering_length": 2500,
    "auto_bitrate_events": 1,
    "user_bitrate_events": 1,
    "isp_name": None,
    "geo_country_code": None,
    "media_id_mismatch": False,
    "program_title": "nova",
    "producer": "WGBH",
    "x_client_id": "device-1",
    "started": True,
    "startup_time_ms": 2500.0,
    "video_start_failure": False,
    "exit_before_video_start": False,
    "playback_failure": False,
    "rebuffer_count": 1,
    "rebuffer_duration": 3.0,
    "seek_count": 1,
    "seek_latency": 1.0,
    "watch_time": 402.5,
    "playing_time": 396.0,  # 402.5 - 3 rebuffer - 1 seek - 2.5 startup
    "completed": True,
    "completion_percent": 100.0,
}


def test_full_session_every_field(fmt):
    row = one(FULL, fmt)
    for name, value in FULL_EXPECTED.items():
        assert row[name] == value, name


def test_text_and_json_give_identical_results():
    events = [*FULL, *[(s, {**f, "x_tracking_id": "77"}) for s, f in FULL]]
    lines_text = render(events, "text")
    lines_json = render(events, "json")
    assert_frame_equal(sessions(lines_text), sessions(lines_json))
    mixed = [a if i % 2 else b for i, (a, b) in enumerate(zip(lines_text, lines_json, strict=True))]
    assert_frame_equal(sessions(mixed), sessions(lines_text))


def test_output_keeps_every_original_column_name():
    # the original job's output fields, as `export --format agora-jsonl` writes them
    assert set(AGORA_FIELDS) <= set(sessions(render(FULL)).columns)


# --- the original's defects, fixed -----------------------------------------------------------------


def test_seek_filter_excludes_seek_stalls_whatever_the_case():
    """Original: `if x_after_seek == 'False': return` skipped real rebuffers (and never matched 'false')."""
    row = one(
        [
            event(0, "MediaStarted", x_video_location="0"),
            event(10, "MediaBufferingStart", x_video_location="10", x_after_seek="False"),
            event(12, "MediaBufferingEnd", x_video_location="10", x_after_seek="False"),
            event(20, "MediaBufferingStart", x_video_location="50", x_after_seek="TRUE"),
            event(20.75, "MediaBufferingEnd", x_video_location="50", x_after_seek="TRUE"),
            event(30, "MediaEnded", x_video_location="60"),
        ]
    )
    assert row["buffering_events"] == 1
    assert row["buffering_length"] == 2.0
    assert row["buffer_start_events"] == 2  # the original's count of all Starts is unchanged
    assert row["rebuffer_count"] == 1 and row["rebuffer_duration"] == 2.0
    assert row["seek_latency"] == 0.75


def test_playhead_positions_compare_as_numbers():
    """Original compared strings: "100" < "99"."""
    row = one(
        [
            event(0, "MediaStarted", x_video_location="100"),
            event(5, "MediaEnded", x_video_location="105"),
            event(6, "MediaStarted", x_video_location="99"),
            event(9, "MediaEnded", x_video_location="9.5"),
        ]
    )
    assert row["position_earliest_play"] == 99.0
    assert row["position_latest_play"] == 105.0


def test_empty_quoted_value_does_not_swallow_the_next_pair():
    """Original's tokenizer `".+?"` made `x_producer="" x_tpmid=1` one token and lost the video id."""
    line = (
        '2024-03-01 12:00:00,000 - Goonhilly [INFO] x_producer="" x_tpmid=42 '
        f'x_tracking_id={LONG_ID} x_episode_title="" x_program_title=nova event_type=MediaStarted'
    )
    parsed = parse([line])
    assert parsed["reject_reason"].to_list() == [None]
    row = sessions([line]).row(0, named=True)
    assert (row["media_id"], row["producer"], row["title"], row["program_title"]) == (
        "42",
        None,
        None,
        "nova",
    )


def test_position_latest_play_is_reported():
    row = one([event(0, "MediaStarted", x_video_location="0"), event(9, "MediaEnded", x_video_location="42")])
    assert row["position_latest_play"] == 42.0


# --- the original's rules, kept ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("marks", "expected"),
    [
        ([(0, "MediaStarted"), (60, "MediaEnded")], 60.0),
        ([(0, "MediaStarted"), (1800, "MediaEnded")], 1800.0),
        ([(0, "MediaInitialBufferStart"), (7200, "MediaCompleted")], 7200.0),
        (
            [
                (0, "MediaStarted"),
                (600, "MediaEnded"),
                (700, "MediaStarted"),
                (1300, "MediaEnded"),
                (1400, "MediaStarted"),
                (2000, "MediaEnded"),
            ],
            1800.0,
        ),
        ([(0, "MediaStarted"), (600, "MediaEnded"), (700, "MediaStarted")], 600.0),
        ([(0, "MediaEnded"), (5, "MediaStarted"), (8, "MediaStarted"), (15, "MediaEnded")], 10.0),
        ([(0, "MediaStarted")], None),
    ],
)
def test_playing_duration_walk(marks, expected):
    row = one([event(s, t) for s, t in marks])
    assert row["playing_duration"] == expected


def test_watch_time_counts_failures_and_the_trailing_interval():
    row = one(
        [
            event(0, "MediaStarted"),
            event(600, "MediaEnded"),
            event(700, "MediaStarted"),
            event(750, "MediaQualityChangeAuto"),
        ]
    )
    assert row["playing_duration"] == 600.0  # original: trailing open interval dropped
    assert row["watch_time"] == 650.0  # QoE: closed at the stream's last event


@pytest.mark.parametrize(
    "pattern",
    [
        [("MediaBufferingStart", "1"), ("MediaBufferingStart", "1"), ("MediaBufferingEnd", "1")],
        [("MediaBufferingStart", "1"), ("MediaBufferingEnd", "7")],  # playhead moved while buffering
        [("MediaBufferingEnd", "1")],  # End without Start
        [("MediaBufferingStart", "1"), ("MediaBufferingEnd", "1"), ("MediaBufferingEnd", "1")],
    ],
)
def test_inconsistent_buffering_makes_length_unknown(pattern):
    events = [event(0, "MediaStarted")] + [
        event(10 + i, kind, x_video_location=loc) for i, (kind, loc) in enumerate(pattern)
    ]
    row = one(events)
    assert row["buffering_length"] is None
    assert row["buffering_events"] == sum(kind == "MediaBufferingEnd" for kind, _ in pattern)


def test_no_buffering_pair_leaves_length_none():
    assert one([event(0, "MediaStarted"), event(3, "MediaEnded")])["buffering_length"] is None


def test_key_appends_video_id_to_short_tracking_ids():
    lines = render(
        [
            event(0, "MediaStarted", x_tracking_id="12345"),
            event(1, "MediaStarted", x_tracking_id="12345", x_tpmid="999"),
            event(2, "MediaStarted"),
        ]
    )
    assert sessions(lines)["key"].to_list() == ["12345-2365304868", "12345-999", LONG_ID]


def test_different_video_on_a_long_key_keeps_the_first_and_flags_it():
    row = one([event(0, "MediaStarted"), event(5, "MediaEnded", x_tpmid="111")])
    assert (row["media_id"], row["media_id_mismatch"]) == ("2365304868", True)


def test_bad_buffering_length_is_rejected_but_keeps_descriptive_fields():
    """As the original: descriptive fields are captured before the bad-data check, nothing else."""
    events = [
        event(0, "MediaInitialBufferEnd", x_buffering_length="119.5", x_episode_title="Only Here"),
        event(1, "MediaStarted", x_episode_title=None),
        event(4, "MediaEnded", x_episode_title=None),
    ]
    parsed = parse(render(events))
    assert parsed["reject_reason"].to_list() == ["bad_buffering_length", None, None]
    row = sessions(render(events)).row(0, named=True)
    assert row["title"] == "Only Here"
    assert row["initial_buffering_length"] == 0
    assert row["first_event_type"] == "MediaStarted"
    assert row["earliest_time"] == datetime(2024, 3, 1, 12, 0, 1)


def test_unknown_event_types_are_kept():
    row = one(
        [event(0, "MediaStarted"), event(5, "MediaError"), event(6, "MediaEnded"), event(9, "MediaError")]
    )
    assert row["last_event_type"] == "MediaError"
    assert row["playing_duration"] == 6.0


def test_milliseconds_order_events_within_a_second():
    row = one([event(0.9, "MediaEnded"), event(0.1, "MediaStarted")])
    assert (row["first_event_type"], row["last_event_type"], row["playing_duration"]) == (
        "MediaStarted",
        "MediaEnded",
        0.8,
    )


# --- QoE outcomes -----------------------------------------------------------------------------------


def test_video_start_failure():
    row = one([event(0, "MediaInitialBufferStart"), event(3, "MediaFailed")])
    assert (row["started"], row["video_start_failure"], row["exit_before_video_start"]) == (
        False,
        True,
        False,
    )
    assert (row["playback_failure"], row["startup_time_ms"], row["watch_time"]) == (False, None, 3.0)


def test_exit_before_video_start():
    row = one([event(0, "MediaInitialBufferStart"), event(4, "MediaQualityChangeAuto")])
    assert (row["started"], row["video_start_failure"], row["exit_before_video_start"]) == (
        False,
        False,
        True,
    )
    assert row["incomplete_stream"] is None


def test_playback_failure_after_start_and_startup_from_timestamps():
    row = one(
        [
            event(0, "MediaInitialBufferStart"),
            event(1.25, "MediaInitialBufferEnd"),  # no client length: timestamps give 1250 ms
            event(1.25, "MediaStarted"),
            event(100, "MediaFailed"),
        ]
    )
    assert (row["started"], row["video_start_failure"], row["playback_failure"]) == (True, False, True)
    assert row["startup_time_ms"] == 1250.0
    assert row["watch_time"] == 100.0
    assert row["incomplete_stream"] is True


@pytest.mark.parametrize(("position", "completed", "percent"), [("580", True, 580 / 6), ("300", False, 50.0)])
def test_completion_from_playhead(position, completed, percent):
    row = one(
        [event(0, "MediaStarted", x_video_location="0"), event(9, "MediaEnded", x_video_location=position)]
    )
    assert row["finished_playback"] is False
    assert row["completed"] is completed
    assert row["completion_percent"] == pytest.approx(percent)


# --- malformed input --------------------------------------------------------------------------------


def test_malformed_lines_are_rejected_with_reasons_and_do_not_stop_the_rest():
    good = render([event(0, "MediaStarted"), event(5, "MediaEnded")])
    data = (
        "\n".join(
            [
                good[0],
                "",
                "garbage without structure",
                "2024-03-01 12:00:01,000 no payload marker here",
                '{"time": "2024-03-01T12:00:02Z", "x_tpmid": ',
                '{"x_tpmid": "1", "x_tracking_id": "2", "event_type": "MediaStarted"}',
                render([event(3, "MediaStarted", x_tracking_id=None)])[0],
                render([event(3, "MediaStarted", x_tpmid="")])[0],
            ]
        ).encode()
        + b"\n2024-03-01 12:00:04,000 - Goonhilly [INFO] x_tpmid=\xff\xfe bad utf8\n"
        + (good[1] + "\n").encode()
    )
    parsed = parse(data)
    assert parsed.height == 10
    reasons = dict(zip(parsed["line_number"].to_list(), parsed["reject_reason"].to_list(), strict=True))
    assert reasons == {
        1: None,
        2: "blank",
        3: "bad_timestamp",
        4: "no_payload",
        5: "invalid_json",
        6: "bad_timestamp",
        7: "keyless",
        8: "keyless",
        9: "keyless",
        10: None,
    }
    rejects = parsing.rejects_frame(parsed.lazy(), pl.lit(date(2024, 3, 1))).collect()
    assert rejects.height == 8 and rejects["line"][3].startswith('{"time"')
    assert sessions(data)["playing_duration"].to_list() == [5.0]


# --- per video and day ------------------------------------------------------------------------------


def test_video_daily_stats_known_answers():
    day = date(2024, 3, 1)
    frame = pl.DataFrame(
        {
            "date": [day] * 4,
            "media_id": ["v1", "v1", "v1", "v2"],
            "program_title": ["nova", None, "nova", "frontline"],
            "producer": ["WGBH"] * 4,
            "title": ["T1", "T1", "T1", "T2"],
            "x_client_id": ["a", "a", "b", "c"],
            "startup_time_ms": [1000.0, 3000.0, None, 500.0],
            "watch_time": [600.0, 1200.0, 0.0, 60.0],
            "rebuffer_duration": [6.0, 12.0, 0.0, 0.0],
            "rebuffer_count": [2, 4, 0, 0],
            "video_start_failure": [False, False, True, False],
            "exit_before_video_start": [False, False, False, False],
            "playback_failure": [False, True, False, False],
            "completed": [True, False, False, True],
            "playing_time": [590.0, 1180.0, 0.0, 59.0],
        }
    )
    v1 = video_stats.video_daily_stats(frame).row(0, named=True)
    assert v1["x_tpmid"] == "v1" and v1["program_title"] == "nova" and v1["views"] == 3
    assert v1["unique_clients"] == 2
    assert v1["startup_time_median_ms"] == 2000.0
    assert v1["startup_time_p95_ms"] == pytest.approx(2900.0)
    assert v1["rebuffer_percentage"] == pytest.approx(18 / 1800 * 100)  # ratio of sums, not mean of ratios
    assert v1["rebuffer_frequency_per_minute"] == pytest.approx(6 / 30)
    assert v1["video_start_failure_percentage"] == pytest.approx(100 / 3)
    assert v1["playback_failure_percentage"] == pytest.approx(100 / 3)
    assert v1["completion_percentage"] == pytest.approx(100 / 3)
    assert v1["watch_hours"] == pytest.approx(0.5)


def test_text_tokenizer_details():
    """v0.3.0 read `x_user_agent`; a repeated key keeps its last value (the original built a dict);
    ` key=` text inside a quoted value of a read key is not a pair."""
    line = (
        f"2024-03-01 12:00:00,000 - Goonhilly [INFO] x_tracking_id={LONG_ID} x_tpmid=1 x_tpmid=2 "
        'x_episode_title="Why x_tpmid=9 matters" x_user_agent="Old UA/1.0" event_type=MediaStarted'
    )
    row = sessions([line]).row(0, named=True)
    assert (row["media_id"], row["title"], row["user_agent"]) == ("2", "Why x_tpmid=9 matters", "Old UA/1.0")


def test_json_time_as_epoch_or_iso_gives_the_same_stream():
    iso = render([event(0, "MediaStarted"), event(30.5, "MediaEnded")], "json")
    epoch_seconds = (T0 - datetime(1970, 1, 1)).total_seconds()
    epoch = [
        line.replace(f'"time": "{stamp}"', f'"time": {epoch_seconds + offset}')
        for line, stamp, offset in zip(
            iso, ["2024-03-01T12:00:00.000Z", "2024-03-01T12:00:30.500Z"], [0, 30.5], strict=True
        )
    ]
    assert epoch != iso
    assert_frame_equal(sessions(epoch), sessions(iso))


@pytest.mark.parametrize(
    ("streams", "years", "shuffled", "null_time"),
    [
        (10, 0, False, False),  # stream, time and delivery rank packed in one u64
        (10, 0, True, False),  # blocks out of delivery order (spilled buckets)
        (1 << 17, 299, False, False),  # stream and time in one u64, a stable sort keeps delivery order
        (1 << 17, 299, True, False),  # three keys
        (10, 0, False, True),
    ],
)
def test_walk_is_by_stream_then_time_then_delivery(streams, years, shuffled, null_time):
    rng = random.Random(7)
    n = 2_000
    start = datetime(1900, 1, 1) if years else datetime(2024, 3, 1)
    span = int((years or 1) * 365.25 * 86_400_000)
    times = [start + timedelta(milliseconds=rng.randrange(0, span, 1 + span // 50)) for _ in range(n)]  # ties
    seq = list(range(n))
    if shuffled:
        rng.shuffle(seq)
    events = pl.DataFrame(
        {
            "stream": [rng.choice([0, streams - 1, rng.randrange(streams)]) for _ in range(n)],
            "ts": [None if null_time and i % 7 == 0 else t for i, t in enumerate(times)],
            "seq": seq,
        },
        schema={"stream": pl.UInt32, "ts": pl.Datetime("ms"), "seq": pl.Int64},
    )
    expected = events.with_row_index("_pos").sort("stream", "ts", "seq")["_pos"]
    assert stream_walk._walk_order_rows(events).to_list() == expected.to_list()
