"""The Wistia client against the twin over HTTP: paging past 100, throttling, bad tokens, bad bodies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from video_analytics.http import AuthError, ResponseFormatError
from video_analytics.sandbox import SimulatorServer
from video_analytics.wistia.client import WistiaClient

from .conftest import TODAY, variant


def test_every_media_is_listed_past_the_first_100(sim, wistia):
    with wistia.client() as client:
        medias = client.list_medias()
        requests = client.counters()["api_requests"]
    assert len(medias) == len(sim.world.media) == 130
    assert {m["id"] for m in medias} == {m.record["id"] for m in sim.world.media}
    assert requests == 2  # 100 + 30: a short page ends the listing
    assert any(m["archived"] for m in medias)


def test_events_of_a_range_are_paged_and_unique(sim, wistia):
    start, end = TODAY - timedelta(days=3), TODAY - timedelta(days=1)
    expected = sum(len(sim.world.events(d.toordinal())) for d in (start, start + timedelta(days=1), end))
    with wistia.client() as client:
        events = client.events(start, end)
    assert len(events) == expected
    assert len({e["event_key"] for e in events}) == expected


@pytest.mark.parametrize("status", [429, 503])
def test_the_account_limit_is_waited_out_for_both_throttle_statuses(sim, wistia, status):
    """Client and simulator on the simulator's clock, frozen, moved only by the client's waits for
    Retry-After: the third request is throttled and the wait lets it through, whatever the load."""
    sim.set_knobs(
        {"requests_per_minute": 2, "window_seconds": 1.0, "throttle_status": status, "retry_after": "2"}
    )
    sim.freeze_clock()
    sim.stats.reset()
    pace = {"clock": sim.monotonic, "sleep": sim.advance, "max_concurrency": 1}
    with WistiaClient(wistia.api_token, base_url=wistia.base_url, requests_per_minute=0, **pace) as client:
        medias = client.list_medias()
        by_date = client.media_by_date(medias[0]["hashed_id"], TODAY - timedelta(days=2), TODAY)
        counters = client.counters()
    assert len(medias) == 130 and len(by_date) >= 1
    assert sim.stats.snapshot()["rate_limited"] >= 1
    assert counters["api_retries"] >= 1 and counters["api_throttled"] >= 1


def test_client_paces_itself_below_the_limit(sim, wistia):
    """Burst plus pace stays within any window: 5 + 5/s x 2 s <= 20 per 2 s, as 9 + 9.5/s x 60 s <= 600."""
    sim.set_knobs({"requests_per_minute": 20, "window_seconds": 2.0})
    sim.stats.reset()
    paced = variant(wistia, requests_per_minute=300)
    with paced.client() as client:
        for _ in range(14):
            client.media_stats(sim.world.media[0].record["hashed_id"])
    assert sim.stats.snapshot()["status"] == {"200": 14}


def test_a_wrong_token_fails_clearly_without_leaking_it(wistia):
    secret = "very-secret-wrong-token"
    bad = variant(wistia, api_token=secret)
    with bad.client() as client, pytest.raises(AuthError) as raised:
        client.list_medias()
    message = str(raised.value)
    assert "HTTP 401" in message and "Invalid credentials." in message
    assert secret not in message


def test_server_errors_and_truncated_bodies_are_retried(sim, wistia):
    sim.faults.update(error_next=2, truncate_next=1)
    with wistia.client() as client:
        medias = client.list_medias()
        counters = client.counters()
    assert len(medias) == 130
    assert counters["api_retries"] == 3


def test_a_persistently_truncated_body_is_a_format_error(sim, wistia):
    sim.faults.update(truncate_next=10)
    quick = variant(wistia, max_attempts=2)
    with quick.client() as client, pytest.raises(ResponseFormatError, match="not valid JSON"):
        client.list_medias()


def test_an_unexpected_shape_is_rejected():
    app = Starlette(routes=[Route("/v1/medias.json", lambda r: JSONResponse({"medias": []}))])
    expected = "expected a JSON array of objects with 'id'"
    with (
        SimulatorServer(app) as server,
        WistiaClient("t", base_url=f"{server.base_url}/v1") as client,
        pytest.raises(ResponseFormatError, match=expected),
    ):
        client.list_medias()


def test_blank_coordinates_sent_as_empty_strings_become_null(sim, wistia):
    from video_analytics.wistia.transforms import fact_events

    sim.set_knobs({"blank_geo_as": "empty"})
    day = TODAY - timedelta(days=2)
    with wistia.client() as client:
        raw = client.events(day, day)
    assert any(e["lat"] == "" for e in raw)
    frame = fact_events(raw)
    assert frame["lat"].null_count() == sum(e["lat"] == "" for e in raw)
    assert frame.filter(frame["lat"] == 0.0).is_empty()
