"""Pure transforms: CSV parsing (formats, truncation, corruption), de-duplication, weighting, joins."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from video_analytics.dailymotion import transforms as tf

DIMS = ("HOUR", "VIDEO_ID", "PLAYLIST_ID")
METRICS = ("VIEWS", "TIME_WATCHED_SECONDS", "VIEW_THROUGH_RATE")
CSV = (
    "hour,video_id,playlist_id,views,time_watched_seconds,view_through_rate\n"
    "2024-02-01T05:00:00Z,x1,,10,100,50.0\n"
    "2024-02-01T06:00:00Z,x1,p1,1,5,100.0\n"
    "2024-02-02T23:00:00Z,x2,p1,3,30,0.0\n"
)


def test_parse_lower_case_iso_hours():
    frame = tf.parse_report_csv(CSV, DIMS, METRICS)
    assert frame.columns == [
        "hour",
        "video_id",
        "playlist_id",
        "views",
        "time_watched_seconds",
        "view_through_rate",
    ]
    assert frame["hour"][0] == datetime(2024, 2, 1, 5, tzinfo=UTC)
    assert frame["playlist_id"].to_list() == [None, "p1", "p1"]  # empty stays null, not -1
    assert frame.schema["views"] == pl.Int64 and frame.schema["view_through_rate"] == pl.Float64


@pytest.mark.parametrize("hour", ["2024-02-01 05:00:00", "2024-02-01 05:00:00+00:00", "2024-02-01T05:00:00Z"])
def test_parse_upper_case_headers_and_other_hour_formats(hour):
    text = f"HOUR,VIDEO_ID,PLAYLIST_ID,VIEWS,TIME_WATCHED_SECONDS,VIEW_THROUGH_RATE\n{hour},x1,,1,2,3.5\n"
    frame = tf.parse_report_csv(text, DIMS, METRICS)
    assert frame["hour"].to_list() == [datetime(2024, 2, 1, 5, tzinfo=UTC)]


def test_truncated_file_is_refused():
    with pytest.raises(tf.ReportFormatError, match=r"\(file 2/3\) is truncated"):
        tf.parse_report_csv(CSV[: len(CSV) // 2], DIMS, METRICS, source="file 2/3")


def test_corrupt_value_and_missing_columns_are_refused():
    with pytest.raises(tf.ReportFormatError, match="corrupt value"):
        tf.parse_report_csv(CSV.replace(",10,", ",ten,"), DIMS, METRICS)
    with pytest.raises(tf.ReportFormatError, match="corrupt value"):
        tf.parse_report_csv(CSV.replace("T05:00:00Z", "T05:00:00+02:00"), DIMS, METRICS)
    with pytest.raises(tf.ReportFormatError, match=r"lacks columns \['playlist_id'\]"):
        tf.parse_report_csv(CSV.replace("playlist_id", "playlist"), DIMS, METRICS)
    with pytest.raises(tf.ReportFormatError, match="empty"):
        tf.parse_report_csv("", DIMS, METRICS)
    with pytest.raises(tf.ReportFormatError, match="empty values"):
        tf.parse_report_csv(CSV.replace(",10,100,", ",,100,"), DIMS, METRICS)


def test_hourly_rows_are_unique_per_key_with_weighted_rate():
    frame = tf.parse_report_csv(CSV, DIMS, METRICS)
    duplicated = pl.concat(
        [
            frame,
            frame.head(1).with_columns(
                pl.lit(30, pl.Int64).alias("views"), pl.lit(0.0).alias("view_through_rate")
            ),
        ]
    )
    out = tf.hourly_reports([duplicated], DIMS, METRICS, [date(2024, 2, 1), date(2024, 2, 2)])
    assert out.height == 3 and out.columns[0] == "day"
    first = out.row(0, named=True)
    assert first["views"] == 40 and first["time_watched_seconds"] == 200
    assert first["view_through_rate"] == pytest.approx(12.5)  # (10*50 + 30*0) / 40, not mean(50, 0)
    assert out["day"].to_list() == [date(2024, 2, 1), date(2024, 2, 1), date(2024, 2, 2)]


def test_rows_outside_the_runs_days_are_an_error():
    frame = tf.parse_report_csv(CSV, DIMS, METRICS)
    with pytest.raises(ValueError, match=r"2024-02-02 fall outside the run's days 2024-02-01\.\.2024-02-01"):
        tf.hourly_reports([frame], DIMS, METRICS, [date(2024, 2, 1)])


def test_daily_stats_sum_weight_and_enrich_with_left_joins():
    hourly = pl.DataFrame(
        {
            "day": [date(2024, 2, 1)] * 3,
            "hour": [datetime(2024, 2, 1, h, tzinfo=UTC) for h in (1, 2, 3)],
            "video_id": ["x1", "x1", "x9"],
            "media_type": ["VIDEO"] * 3,
            "visitor_page_url": ["u", "u", None],
            "visitor_device_type": ["mobile"] * 3,
            "player_id": ["pl1"] * 3,
            "playlist_id": ["p1", "p1", None],
            "views": [1, 99, 5],
            "time_watched_seconds": [10, 990, 50],
            "view_through_rate": [100.0, 0.0, 20.0],
        }
    )
    videos = tf.metadata_frame(
        "video",
        {
            "x1": {
                "title": "T",
                "description": "D",
                "duration": "61",
                "created_time": 1700000000,
                "tags": ["a", "b"],
                "url": "U",
            }
        },
    )
    playlists = tf.metadata_frame("playlist", {"p1": {"name": "P"}})
    players = tf.metadata_frame("player", {"pl1": {"label": "L"}})
    out = tf.daily_video_stats(hourly, videos, playlists, players)
    assert out.columns == list(tf.DAILY_COLUMNS)
    x1, x9 = out.row(0, named=True), out.row(1, named=True)
    assert (x1["views"], x1["time_watched_seconds"]) == (100, 1000)
    assert x1["view_through_rate"] == pytest.approx(1.0)  # weighted; the original's mean would say 50
    assert x1["video_duration"] == 61 and x1["video_tags"] == ["a", "b"]
    assert x1["video_created_time"] == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert (x1["playlist_name"], x1["player_label"]) == ("P", "L")
    assert x9["video_title"] is None and x9["playlist_name"] is None and x9["video_tags"] is None


def test_an_empty_view_through_rate_is_left_out_of_the_weighted_rate():
    csv = (
        "hour,video_id,playlist_id,views,time_watched_seconds,view_through_rate\n"
        "2024-02-01T05:00:00Z,x1,,10,100,\n"
        "2024-02-01T06:00:00Z,x2,,50,100,50.0\n"
        "2024-02-01T06:00:00Z,x2,,50,100,\n"
    )
    hourly = tf.hourly_reports([tf.parse_report_csv(csv, DIMS, METRICS)], DIMS, METRICS, [date(2024, 2, 1)])
    rates = dict(zip(hourly["video_id"], hourly["view_through_rate"], strict=True))
    assert rates["x1"] is None  # unknown, not 0
    assert rates["x2"] == pytest.approx(50.0)  # not (50*50) / 100 = 25
    daily = tf.daily_aggregate(hourly.with_columns(pl.lit("x").alias("video_id")))
    assert daily["views"].to_list() == [110]
    assert daily["view_through_rate"].to_list() == [pytest.approx(50.0)]


def test_daily_stats_with_only_hour_and_video_dimensions_keep_the_other_columns_null():
    dims = ("HOUR", "VIDEO_ID")
    csv = "hour,video_id,views,time_watched_seconds,view_through_rate\n2024-02-01T05:00:00Z,x1,4,40,25.0\n"
    hourly = tf.hourly_reports([tf.parse_report_csv(csv, dims, METRICS)], dims, METRICS, [date(2024, 2, 1)])
    videos = tf.metadata_frame("video", {"x1": {"title": "T", "tags": []}})
    playlists = tf.metadata_frame("playlist", {})
    players = tf.metadata_frame("player", {})
    out = tf.daily_video_stats(hourly, videos, playlists, players)
    assert out.columns == list(tf.DAILY_COLUMNS) and out.height == 1
    row = out.row(0, named=True)
    assert (row["video_id"], row["video_title"], row["views"]) == ("x1", "T", 4)
    assert row["player_id"] is None and row["player_label"] is None and row["playlist_name"] is None


def test_raw_report_stats_count_collapsed_duplicates_and_hours_outside_the_days():
    frame = tf.parse_report_csv(CSV, DIMS, METRICS)
    stats = tf.raw_report_stats([frame, frame.head(1)], DIMS, METRICS, [date(2024, 2, 1)])
    assert stats == {"raw_rows": 4, "duplicate_rows": 1, "rows_outside_days": 1}
