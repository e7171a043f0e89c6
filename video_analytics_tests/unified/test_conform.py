"""The conformed daily table: each platform's names and units mapped onto one shape, QoE beside it."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from video_analytics.unified import conform

DAY = date(2026, 3, 2)


def brightcove_rows() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "channel": ["internet", "intranet"],
            "account_id": ["1", "2"],
            "video_id": ["111", "222"],
            "name": ["Nova Episode 1", "Town Hall"],
            "date": [DAY, DAY],
            "video_view": [10, 0],
            "video_impression": [40, 3],
            "play_rate": [0.25, 0.0],
            "engagement_score": [72.5, None],
            "video_engagement_100": [55.0, None],
            "video_seconds_viewed": [1200.0, None],
            "video_duration": [3_600_000, 90_500],
        }
    )


def dailymotion_rows() -> pl.DataFrame:
    """One video seen on two devices the same day: the source keeps a row per device."""
    return pl.DataFrame(
        {
            "day": [DAY, DAY, DAY],
            "video_id": ["x1", "x1", "x2"],
            "visitor_device_type": ["mobile", "desktop", "mobile"],
            "views": [3, 1, 0],
            "time_watched_seconds": [300, 100, 0],
            "view_through_rate": [50.0, 10.0, 0.0],
            "video_title": ["Nova: Episode 1", "Nova: Episode 1", "Other"],
            "video_duration": [3601, 3601, 60],
        }
    )


def wistia_rows() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    byday = pl.DataFrame(
        {
            "media_id": ["w1", "w2"],
            "date": [DAY.isoformat()] * 2,
            "load_count": [8, 0],
            "play_count": [4, 0],
            "hours_watched": [0.5, 0.0],
        }
    )
    media = pl.DataFrame(
        {"hashed_id": ["w1", "w2"], "name": ["Nova Episode 1", "Spare"], "duration": [3599.5, 10.0]}
    )
    events = pl.DataFrame(
        {
            "media_id": ["w1", "w1", "w1"],
            "received_at": [f"{DAY}T01:00:00Z", f"{DAY}T02:00:00Z", f"{DAY}T03:00:00Z"],
            "visitor_key": ["v1", "v1", "v2"],
        }
    )
    return byday, media, events


def agora_rows() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [DAY, DAY],
            "x_tpmid": ["2000", "3000"],
            "producer": ["WGBH", "WETA"],
            "title": ["Nova Episode 1", "Newshour 5"],
            "views": [6, 2],
            "unique_clients": [5, 2],
            "watch_hours": [1.5, 0.25],
            "completion_percentage": [50.0, 0.0],
            "startup_time_median_ms": [900.0, 1500.0],
            "rebuffer_percentage": [0.5, 2.0],
            "video_start_failure_percentage": [0.0, 10.0],
            "playback_failure_percentage": [1.0, 0.0],
        }
    )


def test_brightcove_names_and_units():
    rows = conform.brightcove_daily(brightcove_rows()).sort("video_id")
    first = rows.row(0, named=True)
    assert first["platform"] == "brightcove" and first["account"] == "internet"
    assert first["views"] == 10 and first["impressions"] == 40
    assert first["duration_seconds"] == 3600.0
    assert first["watch_time_seconds"] == 1200.0 and first["avg_view_duration_seconds"] == 120.0
    assert first["completion_rate"] == pytest.approx(0.55)
    assert first["unique_viewers"] is None  # Brightcove's daily report has no unique viewers
    assert (first["source_table"], first["source_partition"]) == ("daily_video_metrics", "2026-03-02")
    assert rows.row(1, named=True)["avg_view_duration_seconds"] is None  # no views: no average


def test_dailymotion_rows_are_summed_to_one_per_video_and_day():
    rows = conform.dailymotion_daily(dailymotion_rows()).sort("video_id")
    assert rows["video_id"].to_list() == ["x1", "x2"]
    x1 = rows.row(0, named=True)
    assert x1["views"] == 4 and x1["watch_time_seconds"] == 400.0
    assert x1["completion_rate"] == pytest.approx((50 * 3 + 10 * 1) / 4 / 100)
    assert x1["title"] == "Nova: Episode 1" and x1["impressions"] is None
    assert rows["views"].sum() == dailymotion_rows()["views"].sum()


def test_wistia_hours_become_seconds_and_visitors_are_counted():
    rows = conform.wistia_daily(*wistia_rows()).sort("video_id")
    w1 = rows.row(0, named=True)
    assert (w1["views"], w1["impressions"], w1["play_rate"]) == (4, 8, 0.5)
    assert w1["watch_time_seconds"] == 1800.0 and w1["avg_view_duration_seconds"] == 450.0
    assert w1["unique_viewers"] == 2 and w1["title"] == "Nova Episode 1"
    assert w1["completion_rate"] is None  # Wistia's by_date stats have no completion
    assert rows.row(1, named=True)["play_rate"] is None  # no loads: no rate


def test_agora_rows_and_percentages_become_fractions():
    rows = conform.agora_daily(agora_rows()).sort("video_id")
    assert rows["unique_viewers"].to_list() == [5, 2]
    assert rows["watch_time_seconds"].to_list() == [5400.0, 900.0]
    assert rows["completion_rate"].to_list() == [0.5, 0.0]


@pytest.mark.parametrize("platform", ["brightcove", "dailymotion", "agora"])
def test_a_missing_partition_contributes_no_rows(platform):
    frame = getattr(conform, f"{platform}_daily")(pl.DataFrame())
    assert frame.height == 0 and frame.schema == pl.Schema(conform.PERFORMANCE_SCHEMA)


def conformed(identity: pl.DataFrame) -> pl.DataFrame:
    byday, media, events = wistia_rows()
    sources = {
        "brightcove": conform.brightcove_daily(brightcove_rows()),
        "dailymotion": conform.dailymotion_daily(dailymotion_rows()),
        "wistia": conform.wistia_daily(byday, media, events),
        "agora": conform.agora_daily(agora_rows()),
    }
    return conform.conformed_daily(sources, identity, conform.agora_qoe(agora_rows()))


def nova_identity() -> pl.DataFrame:
    keys = [("brightcove", "111"), ("dailymotion", "x1"), ("agora", "2000")]
    return pl.DataFrame(
        {
            "content_id": ["nova-1"] * 3,
            "platform": [p for p, _ in keys],
            "video_id": [v for _, v in keys],
            "identity_method": ["explicit"] * 3,
            "identity_confidence": [1.0] * 3,
        }
    )


def test_qoe_of_the_same_content_sits_beside_every_platform():
    frame = conformed(nova_identity())
    nova = frame.filter(content_id="nova-1")
    assert sorted(nova["platform"]) == ["agora", "brightcove", "dailymotion"]
    assert nova["qoe_startup_time_median_ms"].to_list() == [900.0] * 3
    assert nova["qoe_agora_video_id"].to_list() == ["2000"] * 3
    other = frame.filter(platform="agora", video_id="3000").row(0, named=True)
    assert other["qoe_rebuffer_percentage"] == 2.0 and other["content_id"] == "agora:3000"
    assert frame.filter(platform="wistia")["qoe_rebuffer_percentage"].null_count() == 2


def test_totals_per_platform_equal_the_sources_and_rows_are_unique():
    frame = conformed(nova_identity())
    totals = dict(frame.group_by("platform").agg(pl.col("views").sum()).iter_rows())
    assert totals == {"brightcove": 10, "dailymotion": 4, "wistia": 4, "agora": 8}
    raw = {
        "brightcove": brightcove_rows(),
        "dailymotion": dailymotion_rows(),
        "wistia": wistia_rows()[0],
        "agora": agora_rows(),
        "missing": pl.DataFrame(),
    }
    expected = conform.source_totals({k: v for k, v in raw.items() if k != "missing"})
    assert dict(expected.select("platform", "views").iter_rows()) == totals
    assert expected["date"].unique().to_list() == [DAY]
    assert frame.select("date", "platform", "account", "video_id").is_unique().all()
    assert frame.columns == list(conform.CONFORMED_SCHEMA)
    assert frame.filter(platform="wistia")["identity_method"].to_list() == ["unmatched"] * 2
