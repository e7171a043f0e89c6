"""The TMDB simulator's contract (CONTRACTS.md §4), asked directly with httpx (no client code)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import numpy as np
import pytest

from video_analytics.sandbox.tmdb.simulator import (
    KINDS,
    SANDBOX_API_KEY,
    SANDBOX_READ_TOKEN,
    TMDBWorld,
)
from video_analytics_tests.tmdb.conftest import TODAY

KEY = {"api_key": SANDBOX_API_KEY}


def get(sim, path: str, params: dict | None = None, headers: dict | None = None) -> httpx.Response:
    return httpx.get(f"{sim.base_url}/{path}", params={**KEY, **(params or {})}, headers=headers, timeout=10)


def test_discover_pages_are_ranked_by_popularity_twenty_a_page(sim):
    one, two = get(sim, "discover/movie", {"page": 1}).json(), get(sim, "discover/movie", {"page": 2}).json()
    assert len(one["results"]) == 20 and one["page"] == 1
    assert one["total_results"] == sim.world.n and one["total_pages"] == 8
    popularity = [m["popularity"] for m in one["results"] + two["results"]]
    assert popularity == sorted(popularity, reverse=True)
    assert {"id", "title", "genre_ids", "vote_count", "vote_average", "release_date"} <= set(
        one["results"][0]
    )
    popular = get(sim, "movie/popular", {"page": 1}).json()
    assert [m["id"] for m in popular["results"]] == [m["id"] for m in one["results"]]


@pytest.mark.parametrize("page", [0, 501, "x"])
def test_pages_outside_1_to_500_are_refused_with_code_22(sim, page):
    response = get(sim, "discover/movie", {"page": page})
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "status_code": 22,
        "status_message": "Invalid page: Pages start at 1 and max at 500. "
        "They are expected to be an integer.",
    }
    assert get(sim, "discover/movie", {"page": 500}).json()["results"] == []  # page 500 is served


def test_changes_window_of_15_days_is_refused_14_served(sim):
    start = TODAY - timedelta(days=14)
    refused = get(sim, "movie/changes", {"start_date": str(start), "end_date": str(TODAY)})
    assert refused.status_code == 422 and refused.json()["status_code"] == 20
    served = get(sim, "movie/changes", {"start_date": str(start + timedelta(days=1)), "end_date": str(TODAY)})
    assert served.status_code == 200
    body = served.json()
    assert len(body["results"]) == min(100, body["total_results"]) and body["total_pages"] >= 1
    assert set(body["results"][0]) == {"id", "adult"}
    assert get(sim, "movie/changes", {"start_date": "2024-13-01"}).json()["status_code"] == 23


def test_changes_pages_hold_100_ids_and_match_the_world(sim):
    params = {"start_date": "2024-02-20", "end_date": "2024-02-29"}
    first = get(sim, "movie/changes", params).json()
    ids = [
        r["id"]
        for page in range(1, first["total_pages"] + 1)
        for r in get(sim, "movie/changes", {**params, "page": page}).json()["results"]
    ]
    assert len(ids) == len(set(ids)) == first["total_results"] > 100
    assert sorted(ids) == sim.world.changed_ids(TODAY - timedelta(days=10), TODAY - timedelta(days=1))


def test_movie_details_appends_and_errors(sim):
    movie_id = int(sim.world.ids[3])
    body = get(sim, f"movie/{movie_id}", {"append_to_response": "credits,keywords"}).json()
    assert body["id"] == movie_id and "credits" in body and "keywords" in body
    assert {"budget", "revenue", "runtime", "genres", "popularity", "vote_count"} <= set(body)
    too_many = get(sim, f"movie/{movie_id}", {"append_to_response": ",".join(["credits"] * 21)})
    assert too_many.status_code == 400 and too_many.json()["status_code"] == 27
    missing = get(sim, "movie/1")
    assert missing.status_code == 404 and missing.json()["status_code"] == 34


def test_auth_by_key_or_bearer_and_code_7_otherwise(sim):
    url = f"{sim.base_url}/movie/popular"
    assert httpx.get(url, headers={"Authorization": f"Bearer {SANDBOX_READ_TOKEN}"}).status_code == 200
    for response in (
        httpx.get(url),
        httpx.get(url, params={"api_key": "0" * 32}),
        httpx.get(url, headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}),  # the v3 key as Bearer
    ):
        assert response.status_code == 401 and response.json()["status_code"] == 7


def test_beyond_forty_a_second_is_429_code_25(sim):
    sim.freeze_clock()
    sim.set_knobs({"max_rps": 40.0, "burst": 40})
    url = f"{sim.base_url}/movie/popular"
    with httpx.Client(params=KEY) as http, ThreadPoolExecutor(16) as pool:
        codes = [r.status_code for r in pool.map(lambda _: http.get(url), range(120))]
        assert codes.count(200) == 40 and codes.count(429) == 80  # the burst, then nothing refills
        sim.advance(0.5)
        codes = [r.status_code for r in pool.map(lambda _: http.get(url), range(30))]
        assert codes.count(200) == 20 and codes.count(429) == 10  # half a second refills 20
        refused = http.get(url)
    assert refused.json()["status_code"] == 25 and "Retry-After" not in refused.headers
    sim.set_knobs({"rate_limit_retry_after": "2"})
    with httpx.Client(params=KEY) as http:
        throttled = next(r for r in (http.get(url) for _ in range(50)) if r.status_code == 429)
    assert throttled.headers["Retry-After"] == "2"


def test_sandbox_clock_replays_past_days_and_refuses_the_future(sim):
    movie_id, i = int(sim.world.ids[0]), 0
    past = TODAY - timedelta(days=10)
    body = get(sim, f"movie/{movie_id}", headers={"X-Sandbox-Date": str(past)}).json()
    d = sim.world.day_index(past)
    assert body["popularity"] == float(sim.world.popularity[i, d])
    assert body["vote_count"] == int(sim.world.vote_count[i, d])
    assert get(sim, f"movie/{movie_id}").json()["vote_count"] == int(sim.world.vote_count[i, -1])
    future = get(sim, f"movie/{movie_id}", headers={"X-Sandbox-Date": str(TODAY + timedelta(days=1))})
    assert future.status_code == 400 and "after today" in future.json()["status_message"]


def test_world_is_deterministic_and_every_kind_and_category_occurs():
    a, b = TMDBWorld(today=TODAY, scale="test"), TMDBWorld(today=TODAY, scale="test")
    assert np.array_equal(a.popularity, b.popularity) and np.array_equal(a.vote_count, b.vote_count)
    assert not np.array_equal(a.popularity, TMDBWorld(today=TODAY, scale="test", seed=8).popularity)
    assert set(a.kind.tolist()) == set(range(len(KINDS)))
    assert (np.diff(a.vote_count, axis=1) >= 0).all()  # votes never go down
    v, p, bands = a.vote_count.astype(float), a.popularity, set()
    for d in range(a.history_days - 14, a.history_days):
        growth = 0.6 * 100 * (v[:, d] - v[:, d - 7]) / np.maximum(v[:, d - 7], 1)
        growth += 0.4 * 100 * (p[:, d] - p[:, d - 7]) / np.maximum(p[:, d - 7], 1)
        bands |= set(np.digitize(np.clip(growth, 0, 100), [20, 40, 60, 80]).tolist())
    assert bands == {0, 1, 2, 3, 4}  # Not, Slightly, Moderately, Highly, Extremely Viral
