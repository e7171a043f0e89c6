"""The Wistia twin honours the contract: bare arrays, per_page cap, inclusive by_date, retention, limits."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from video_analytics.sandbox.wistia.simulator import RETENTION_DAYS, SANDBOX_TOKEN

from .conftest import TODAY

AUTH = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}


def get(url: str, path: str, **params) -> httpx.Response:
    return httpx.get(f"{url}/v1/{path}", params=params, headers=AUTH, timeout=30)


def test_medias_are_bare_arrays_capped_at_100_per_page_with_a_default_of_10(wistia_sim):
    sim, url = wistia_sim
    assert len(get(url, "medias.json").json()) == 10
    first = get(url, "medias.json", per_page=500).json()
    assert isinstance(first, list) and len(first) == 100
    second = get(url, "medias.json", per_page=100, page=2).json()
    assert len(second) == len(sim.world.media) - 100 == 30
    assert {m["id"] for m in first}.isdisjoint({m["id"] for m in second})


def test_bearer_token_is_required(wistia_sim):
    _, url = wistia_sim
    response = httpx.get(f"{url}/v1/medias.json", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid credentials."}


def test_by_date_is_inclusive_and_agrees_with_the_media_totals(wistia_sim):
    sim, url = wistia_sim
    media = max(sim.world.media, key=lambda m: m.popularity)
    start, end = TODAY - timedelta(days=6), TODAY - timedelta(days=2)
    rows = get(
        url, f"stats/medias/{media.record['hashed_id']}/by_date.json", start_date=start, end_date=end
    ).json()
    assert [r["date"] for r in rows] == [str(start + timedelta(days=i)) for i in range(5)]
    totals = get(url, f"stats/medias/{media.record['hashed_id']}.json").json()
    history = sim.world.by_date(media, start - timedelta(days=5000), TODAY)
    assert totals["play_count"] == sum(r["play_count"] for r in history)
    assert 0 <= totals["play_rate"] <= 1


def test_events_are_kept_two_years_only_and_some_lack_geo_data(wistia_sim):
    sim, url = wistia_sim
    day = TODAY - timedelta(days=3)
    events = get(url, "stats/events.json", start_date=day, end_date=day, per_page=100).json()
    assert 0 < len(events) <= 100
    assert all(e["received_at"].startswith(str(day)) for e in events)
    assert len(sim.world.events(day.toordinal())) > 100  # so paging is needed for a day
    every = sim.world.events(day.toordinal())
    assert any(e["lat"] is None for e in every) and any(e["lat"] is not None for e in every)
    old = TODAY - timedelta(days=RETENTION_DAYS + 5)
    assert get(url, "stats/events.json", start_date=old, end_date=old).json() == []


@pytest.mark.parametrize("status", [429, 503])
def test_requests_beyond_the_limit_get_the_throttle_status_and_retry_after(wistia_sim, status):
    sim, url = wistia_sim
    sim.set_knobs({"requests_per_minute": 3, "throttle_status": status, "retry_after": "7"})
    sim.freeze_clock()  # the window moves only when the test says so
    responses = [get(url, "medias.json", per_page=1) for _ in range(4)]
    assert [r.status_code for r in responses[:3]] == [200, 200, 200]
    assert responses[3].status_code == status
    assert responses[3].headers["Retry-After"] == "7"
    sim.advance(59)
    assert get(url, "medias.json", per_page=1).status_code == status, "still within the minute"
    sim.advance(2)
    assert get(url, "medias.json", per_page=1).status_code == 200, "the first requests left the window"


def test_media_show_by_hashed_or_numeric_id_and_errors(wistia_sim):
    sim, url = wistia_sim
    record = sim.world.media[5].record
    assert get(url, f"medias/{record['hashed_id']}.json").json() == record
    assert (
        get(url, f"stats/medias/{record['id']}.json").json()
        == get(url, f"stats/medias/{record['hashed_id']}.json").json()
    )
    assert get(url, "stats/medias/doesnotexist.json").status_code == 404
    assert get(url, "stats/events.json", start_date="2024-13-01").status_code == 400
