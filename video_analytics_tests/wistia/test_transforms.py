"""Pure transforms: the seed's columns and types, nulls kept null, one row per key."""

from __future__ import annotations

from datetime import date

import polars as pl

from video_analytics.wistia import transforms as t

MEDIA = {
    "id": 7,
    "name": "Launch",
    "type": "Video",
    "archived": True,
    "created": "2024-01-02T03:04:05+00:00",
    "updated": "2024-01-03T03:04:05+00:00",
    "duration": 12.5,
    "hashed_id": "abc123",
    "description": "",
    "progress": 1.0,
    "status": "ready",
    "thumbnail": {"url": "u", "width": 200, "height": 120, "extra": 1},
    "project": {"id": 1, "name": "P", "hashed_id": "p1"},
    "assets": [{"url": "a", "width": 1, "height": 1, "fileSize": 9, "contentType": "video/mp4", "type": "O"}],
    "tags": [{"name": "x"}, {"name": "y"}],
}


def event(key: str, at: str, visitor: str = "v1", **extra) -> dict:
    base = {
        "received_at": at,
        "event_key": key,
        "visitor_key": visitor,
        "percent_viewed": 0.5,
        "ip": "1.2.3.4",
        "country": "US",
        "lat": 25.7,
        "lon": -80.2,
        "email": None,
        "media_id": "abc123",
        "conversion_data": {"secret": "dropped"},
        "user_agent_details": {
            "browser": "Chrome",
            "browser_version": "1",
            "platform": "mac",
            "mobile": False,
        },
    }
    return {**base, **extra}


def test_dim_media_has_the_seed_columns_and_types():
    frame = t.dim_media([MEDIA, {**MEDIA, "id": 3, "archived": False, "tags": []}])
    assert frame.schema == pl.Schema(t.DIM_MEDIA)
    assert frame["id"].to_list() == [3, 7]
    assert frame["archived"].to_list() == [False, True]
    assert frame["tags"].to_list() == [[], ["x", "y"]]
    assert frame["section"].to_list() == [None, None]  # absent in the payload
    assert frame["thumbnail"][1] == {"url": "u", "width": 200, "height": 120}


def test_missing_coordinates_stay_null_not_zero():
    frame = t.fact_events(
        [
            event("a", "2024-01-01T10:00:00.000Z", lat=None, lon=None),
            event("b", "2024-01-01T11:00:00.000Z", lat="", lon=" "),
            event("c", "2024-01-01T12:00:00.000Z", lat="40.5", lon=-3),
        ]
    )
    assert frame["lat"].to_list() == [None, None, 40.5]
    assert frame["lon"].to_list() == [None, None, -3.0]
    assert frame.schema == pl.Schema(t.FACT_EVENTS)
    assert "conversion_data" not in frame.columns


def test_events_are_unique_on_event_key_and_email_is_a_flag():
    frame = t.fact_events(
        [
            event("a", "2024-01-01T10:00:00.000Z"),
            event("a", "2024-01-01T10:00:00.000Z"),
            event("b", "2024-01-01T09:00:00.000Z", email="x@example.com"),
        ]
    )
    assert frame["event_key"].to_list() == ["b", "a"]
    assert frame["email"].to_list() == [1, 0]


def test_dim_visitors_has_one_row_per_visitor_with_the_latest_ip():
    events = t.fact_events(
        [
            event("a", "2024-01-01T10:00:00.000Z", "v1", ip="1.1.1.1"),
            event("b", "2024-01-02T10:00:00.000Z", "v1", ip="2.2.2.2", country=None),
            event("c", "2024-01-01T08:00:00.000Z", "v2", ip="3.3.3.3", country="GB"),
        ]
    )
    visitors = t.dim_visitors(events)
    assert visitors.to_dicts() == [
        {
            "visitor_id": "v1",
            "ip_address": "2.2.2.2",
            "country": "US",
            "first_seen": "2024-01-01T10:00:00.000Z",
            "last_seen": "2024-01-02T10:00:00.000Z",
            "events": 2,
        },
        {
            "visitor_id": "v2",
            "ip_address": "3.3.3.3",
            "country": "GB",
            "first_seen": "2024-01-01T08:00:00.000Z",
            "last_seen": "2024-01-01T08:00:00.000Z",
            "events": 1,
        },
    ]
    assert t.dim_visitors(t.fact_events([])).schema == pl.Schema(t.DIM_VISITORS)


def test_engagements_are_cumulative_through_each_day_with_the_snapshot_on_its_day():
    byday = t.byday_rows(
        {
            "m1": [
                {"date": "2024-01-01", "load_count": 10, "play_count": 4, "hours_watched": 1.0},
                {"date": "2024-01-02", "load_count": 5, "play_count": 1, "hours_watched": 0.5},
            ],
            "m2": [{"date": "2024-01-02", "load_count": 0, "play_count": 0, "hours_watched": 0.0}],
        }
    )
    assert byday.schema == pl.Schema(t.FACT_BYDAY)
    snapshots = {"m1": {"engagement": 0.7, "visitors": 12}, "m2": {"engagement": 0.1, "visitors": 0}}
    out = t.engagements_as_of(byday, [date(2024, 1, 1), date(2024, 1, 2)], snapshots, date(2024, 1, 2))
    assert out.schema == pl.Schema(t.FACT_ENGAGEMENTS)
    assert out.select(
        "media_id", "load_count", "play_count", "play_rate", "engagement", "visitors"
    ).rows() == [
        ("m1", 10, 4, 0.4, None, None),
        ("m1", 15, 5, 5 / 15, 0.7, 12),
        ("m2", 0, 0, 0.0, 0.1, 0),
    ]


def test_engagement_graph_keeps_the_series():
    frame = t.engagement_graph({"m": {"engagement": 0.5, "engagement_data": [3, 2], "rewatch_data": [0, 1]}})
    assert frame.schema == pl.Schema(t.FACT_GRAPH)
    assert frame.row(0) == ("m", 0.5, [3, 2], [0, 1])


def test_the_checks_catch_duplicates_bad_ranges_and_orphan_events():
    from video_analytics.wistia.assets import engagement_checks, event_checks

    events = t.fact_events([event("a", "2024-01-01T10:00:00.000Z"), event("b", "2024-01-01T11:00:00.000Z")])
    events = pl.concat([events, events.head(1)]).with_columns(
        pl.Series("percent_viewed", [0.5, 1.5, 0.5]), pl.Series("media_id", ["abc123", "gone", "abc123"])
    )
    media = pl.DataFrame({"hashed_id": ["abc123"]})
    results = {r.check_name: r for r in event_checks(events, media)}
    assert not results["unique_event_key"].passed
    assert not results["percent_viewed_within_0_1"].passed
    orphan = results["events_reference_media"]
    assert not orphan.passed and orphan.metadata["examples"].value == "gone"

    engagements = pl.DataFrame(
        {"media_id": ["m", "m"], "date": [date(2024, 1, 1)] * 2, "play_rate": [0.5, 1.2]}
    )
    byday = pl.DataFrame({"media_id": ["m"], "date": ["2024-01-01"]})
    checks = [
        (str(r.asset_key.path[-1]), r.check_name, r.passed) for r in engagement_checks(engagements, byday)
    ]
    assert checks == [
        ("wistia_fact_engagements", "unique_media_date", False),
        ("wistia_fact_engagements_byday", "unique_media_date", True),
        ("wistia_fact_engagements", "play_rate_within_0_1", False),
    ]
