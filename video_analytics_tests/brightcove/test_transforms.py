"""Brightcove transforms on hand-built API rows with answers worked out by hand."""

from datetime import UTC, date, datetime

import polars as pl

from video_analytics.brightcove import transforms as t

VIDEOS = [
    {
        "id": "111",
        "name": "Quarterly results",
        "created_at": "2024-03-01T10:00:00.123Z",
        "published_at": "2024-03-02T08:00:00.000Z",
        "updated_at": "2024-05-01T00:00:00.000Z",
        "original_filename": "q1.mp4",
        "created_by": {"type": "user", "id": "u1", "email": "ana@example.com"},
        "duration": 93500,
        "state": "ACTIVE",
        "reference_id": "ref-1",
        "tags": ["finance", "q1"],
        "custom_fields": {"country": "CH", "language": "en"},
    },
    {
        "id": "222",
        "name": "Old draft",
        "created_at": "2023-06-01T10:00:00.000Z",
        "published_at": None,
        "state": "INACTIVE",
        "created_by": {"type": "api_key"},
        "tags": [],
        "duration": 1000,
    },
]


def cms() -> pl.DataFrame:
    return t.cms_videos_frame(VIDEOS, "internet", "1197194721001")


def test_cms_frame_keeps_runbook_fields_and_absent_custom_fields_as_null():
    frame = cms()
    assert frame.height == 2
    first = frame.row(0, named=True)
    assert first["tags"] == "finance,q1"
    assert first["created_by"] == "ana@example.com"
    assert first["duration"] == 93500
    assert first["country"] == "CH" and first["business_unit"] is None
    assert first["created_at"] == datetime(2024, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert frame.row(1, named=True)["created_by"] == "api_key"


def test_cms_filter_is_the_runbook_filter_when_configured():
    frame = cms()
    assert t.CmsFilter().apply(frame).height == 2
    runbook = t.CmsFilter(states=("active",), require_published=True, created_years=(2024, 2025))
    assert runbook.apply(frame)["id"].to_list() == ["111"]
    assert t.CmsFilter(created_years=(2023,)).apply(frame)["id"].to_list() == ["222"]


def test_device_views_pivot_sums_unknown_devices_into_other():
    rows = [
        {"video": "111", "date": "2024-05-01", "device_type": "desktop", "video_view": 5},
        {"video": "111", "date": "2024-05-01", "device_type": "TV", "video_view": 2},
        {"video": "111", "date": "2024-05-01", "device_type": "other", "video_view": 1},
        {"video": "111", "date": "2024-05-01", "device_type": "mobile", "video_view": 3},
        {"video": "111", "date": "2024-05-01", "device_type": "mobile", "video_view": 3},  # tied-row repeat
    ]
    frame = t.device_views_frame(rows)
    assert frame.row(0, named=True) == {
        "video_id": "111",
        "date": date(2024, 5, 1),
        "views_desktop": 5,
        "views_mobile": 3,
        "views_tablet": 0,
        "views_other": 3,
    }


def test_daily_rows_join_metrics_devices_and_cms_once_per_video_and_day():
    metric_rows = [
        {"video": "111", "date": "2024-05-01", "video_view": 10, "video_impression": 40, "play_rate": 0.25,
         "engagement_score": None, "video_seconds_viewed": 300.5},
        {"video": "111", "date": "2024-05-01", "video_view": 10, "video_impression": 40, "play_rate": 0.25},
        {"video": "333", "date": "2024-05-02", "video_view": 1},
    ]  # fmt: skip
    device_rows = [{"video": "111", "date": "2024-05-01", "device_type": "tablet", "video_view": 10}]
    generated = datetime(2024, 5, 3, tzinfo=UTC)
    frame = t.daily_video_metrics(
        t.metrics_frame(metric_rows), t.device_views_frame(device_rows), cms(), generated,
        channel="internet", account_id="1197194721001",
    )  # fmt: skip
    assert frame.columns == list(t.DAILY_COLUMNS)
    assert frame.height == 2
    row = frame.filter(pl.col("video_id") == "111").row(0, named=True)
    assert row["video_view"] == 10 and row["views_tablet"] == 10 and row["views_desktop"] == 0
    assert row["video_impression"] == 40 and row["play_rate"] == 0.25
    assert row["engagement_score"] is None  # "not processed yet" stays null
    assert row["name"] == "Quarterly results" and row["video_duration"] == 93500
    assert row["report_generated_on"] == generated
    orphan = frame.filter(pl.col("video_id") == "333").row(0, named=True)
    assert orphan["video_impression"] == 0 and orphan["name"] is None
    inner = t.daily_video_metrics(
        t.metrics_frame(metric_rows), t.device_views_frame(device_rows), cms(), generated,
        channel="internet", account_id="1197194721001", only_cms_videos=True,
    )  # fmt: skip
    assert inner["video_id"].to_list() == ["111"]


def test_recently_viewed_window_is_inclusive_and_ignores_zero_view_days():
    views = t.views_frame(
        [
            {"video": "a", "date": "2024-01-01", "video_view": 3},
            {"video": "a", "date": "2024-01-10", "video_view": 2},
            {"video": "b", "date": "2024-01-05", "video_view": 0},
            {"video": "c", "date": "2023-12-31", "video_view": 9},
        ]
    )
    frame = t.recently_viewed(views, [date(2024, 1, 10), date(2024, 1, 11)], lookback_days=10)
    day10 = frame.filter(pl.col("date") == date(2024, 1, 10)).sort("video_id")
    assert day10.rows() == [("a", date(2024, 1, 10), 5, date(2024, 1, 10))]
    day11 = frame.filter(pl.col("date") == date(2024, 1, 11))
    assert day11.rows() == [("a", date(2024, 1, 10), 2, date(2024, 1, 11))]


def test_existence_check_matches_account_and_video():
    from video_analytics.brightcove.assets import daily_checks

    cms_frame = cms()  # both videos belong to account 1197194721001
    rows = pl.DataFrame(
        {
            "account_id": ["1197194721001", "4413047246001"],
            "video_id": ["111", "111"],  # the same id under another account is not that video
            "date": [date(2024, 5, 1)] * 2,
            "video_view": [1, 1],
            "video_impression": [2, 2],
            "play_rate": [0.5, 0.5],
            **{c: [0, 0] for c in t.DEVICE_COLUMNS},
        }
    )
    results = {r.check_name: r for r in daily_checks(rows, cms_frame)}
    existence = results["videos_exist_in_cms"]
    assert not existence.passed
    assert existence.metadata["examples"].value == "4413047246001:111"
    assert results["unique_account_video_date"].passed and results["counts_non_negative"].passed
