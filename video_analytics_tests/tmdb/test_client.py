"""The TMDB client against the simulator: limits never hit, faults survived, secrets never shown."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from video_analytics.http import ApiError, AuthError, ResponseFormatError, RetryPolicy, ThrottledError
from video_analytics.sandbox import SimulatorServer
from video_analytics.sandbox.tmdb.simulator import SANDBOX_API_KEY, SANDBOX_READ_TOKEN
from video_analytics.tmdb.client import TMDBClient, change_windows
from video_analytics_tests.tmdb.conftest import TODAY, make_client


def test_most_popular_is_ranked_unique_and_matches_the_world(sim):
    with make_client(sim) as client:
        movies = client.most_popular(50)
    order = sim.world.ranking(TODAY)[:50]
    assert [m["id"] for m in movies] == [int(sim.world.ids[i]) for i in order]
    assert [m["rank"] for m in movies] == list(range(1, 51))
    assert sim.stats.snapshot()["requests"] == {"discover": 3}


def test_page_501_is_never_requested_even_when_tmdb_reports_more(sim):
    sim.set_knobs({"reported_total_pages": 42_471})
    with make_client(sim) as client:
        movies = client.most_popular(10_000)  # 500 pages: the most TMDB serves
        with pytest.raises(ValueError, match="500 pages"):
            client.most_popular(10_001)
        with pytest.raises(ValueError, match="page 501 was not requested"):
            client.list_page(501)
    stats = sim.stats.snapshot()
    assert stats["requests"] == {"discover": 500} and stats["status"] == {"200": 500}
    assert len(movies) == sim.world.n  # the pages beyond the world are empty


def test_change_windows_never_exceed_14_days():
    windows = change_windows(date(2024, 1, 1), date(2024, 1, 30))
    assert windows == [
        (date(2024, 1, 1), date(2024, 1, 14)),
        (date(2024, 1, 15), date(2024, 1, 28)),
        (date(2024, 1, 29), date(2024, 1, 30)),
    ]
    assert change_windows(date(2024, 1, 1), date(2024, 1, 1)) == [(date(2024, 1, 1), date(2024, 1, 1))]
    with pytest.raises(ValueError, match="before start"):
        change_windows(date(2024, 1, 2), date(2024, 1, 1))


def test_thirty_days_of_changes_are_asked_in_14_day_windows(sim):
    start, end = TODAY - timedelta(days=30), TODAY - timedelta(days=1)
    with make_client(sim) as client:
        ids = client.changed_ids(start, end)
    assert ids == sorted(sim.world.changed_ids(start, end))
    stats = sim.stats.snapshot()
    assert "422" not in stats["status"] and stats["requests"]["changes"] >= 3


def test_429s_are_retried_and_counted(sim):
    sim.faults.update(throttle_next=2, retry_after_header="0.05")
    with make_client(sim) as client:
        movies = client.most_popular(20)
        counters = client.counters
    assert len(movies) == 20
    assert counters["api_throttled"] == 2 and counters["api_retries"] == 2 and counters["api_requests"] == 3


def test_persistent_429_fails_clearly_without_the_key(sim):
    sim.faults.update(throttle_next=10, retry_after_header="0")
    retry = RetryPolicy(max_attempts=3, base_delay=0.01)
    with make_client(sim, retry=retry) as client, pytest.raises(ThrottledError) as failure:
        client.movie(int(sim.world.ids[0]))
    message = str(failure.value)
    assert "tmdb GET /3/movie/" in message and "HTTP 429 after 3 attempts" in message
    assert "over the allowed limit of 40" in message and SANDBOX_API_KEY not in message


def test_client_rate_stays_under_the_servers_limit(sim):
    """The client's limiter and the server's on one clock, the simulator's, frozen and moved only by the
    client's waits: the pace is checked exactly, whatever the machine's load. One thread, so each wait
    follows its own reservation (the limiter's ordering of threads is tested in http/test_limits.py)."""
    sim.set_knobs({"max_rps": 40.0, "burst": 40})
    sim.freeze_clock()
    started = sim.monotonic()
    pace = {"clock": sim.monotonic, "sleep": sim.advance, "max_concurrency": 1}
    with make_client(sim, rate_limit=38.0, **pace) as client:
        client.movies([int(i) for i in sim.world.ids[:70]])
    assert sim.stats.snapshot()["throttled"] == 0
    assert sim.monotonic() - started == pytest.approx(69 / 38)  # a burst of one, then 38 a second


def test_a_client_faster_than_the_server_is_throttled_on_the_same_clock(sim):
    """The counter-check of the test above: at 400/s the same 70 requests overrun 40/s plus a burst of 40."""
    sim.set_knobs({"max_rps": 40.0, "burst": 40})
    sim.freeze_clock()
    pace = {"clock": sim.monotonic, "sleep": sim.advance, "max_concurrency": 1}
    client = make_client(sim, rate_limit=400.0, retry=RetryPolicy(max_attempts=1), **pace)
    with client, pytest.raises(ThrottledError):
        client.movies([int(i) for i in sim.world.ids[:70]])
    assert sim.stats.snapshot()["throttled"] >= 1


def test_5xx_and_truncated_bodies_are_retried(sim):
    sim.faults.update(error_next=1, truncate_next=1)
    with make_client(sim) as client:
        body = client.movie(int(sim.world.ids[5]))
        counters = client.counters
    assert body["id"] == int(sim.world.ids[5]) and counters["api_retries"] == 2
    assert sim.stats.snapshot()["truncated"] == 1


def test_bad_key_is_an_auth_error_without_the_key(sim):
    bad_key = "f" * 32
    with make_client(sim, api_key=bad_key) as client, pytest.raises(AuthError) as failure:
        client.most_popular(20)
    assert "Invalid API key" in str(failure.value) and bad_key not in str(failure.value)


def test_read_token_is_sent_as_bearer(sim):
    with make_client(sim, api_key=None, read_access_token=SANDBOX_READ_TOKEN) as client:
        assert len(client.most_popular(20)) == 20
    with pytest.raises(ValueError, match="TMDB_API_KEY or TMDB_READ_ACCESS_TOKEN"):
        TMDBClient(sim.base_url)


def test_deleted_movies_are_skipped_and_sandbox_date_is_sent(sim):
    past = TODAY - timedelta(days=9)
    ids = [int(sim.world.ids[0]), 1]  # id 1 does not exist: 404 code 34
    with make_client(sim) as client:
        found = client.movies(ids, as_of=past)
        with pytest.raises(ValueError, match="at most 20"):
            client.movie(ids[0], append=["credits"] * 21)
    assert [m["id"] for m in found] == [ids[0]]
    assert found[0]["vote_count"] == int(sim.world.vote_count[0, sim.world.day_index(past)])


@pytest.fixture(scope="module")
def broken_api():
    """An API answering with JSON of the wrong shape."""

    def handler(request):
        if request.url.path.endswith("discover/movie"):
            return JSONResponse({"page": 1, "results": "oops", "total_pages": 1})
        if request.url.path.endswith("changes"):
            return JSONResponse([1, 2, 3])
        return Response('{"id": 5, "title": "cut', media_type="application/json")

    app = Starlette(routes=[Route("/3/{path:path}", handler)])
    with SimulatorServer(app) as server:
        yield server.base_url + "/3"


def test_malformed_responses_are_clear_errors(broken_api):
    with TMDBClient(broken_api, api_key="k", retry=RetryPolicy(max_attempts=2, base_delay=0.01)) as client:
        with pytest.raises(ResponseFormatError, match="results without ids"):
            client.most_popular(20)
        with pytest.raises(ResponseFormatError, match="expected"):
            client.changed_ids(TODAY, TODAY)
        with pytest.raises(ApiError, match="not valid JSON"):
            client.movie(5)
