from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from itertools import count

import pytest

from video_analytics.http import OAuthClientCredentials, TokenBucket
from video_analytics_tests.http.conftest import Reply


class FakeTime:
    """A clock whose sleep advances it, so waits are exact and instant."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def test_token_bucket_burst_then_rate():
    t = FakeTime()
    bucket = TokenBucket(rate=4, burst=3, clock=t.clock, sleep=t.sleep)
    grants = []
    for _ in range(11):
        bucket.acquire()
        grants.append(t.now)
    assert grants[:3] == [0.0, 0.0, 0.0]
    assert grants[3:] == pytest.approx([0.25 * i for i in range(1, 9)])
    assert len([g for g in grants if 0 < g <= 1.0]) == 4  # `rate` grants per second after the burst


def test_token_bucket_refills_when_idle_but_not_beyond_burst():
    t = FakeTime()
    bucket = TokenBucket(rate=2, burst=2, clock=t.clock, sleep=t.sleep)
    bucket.acquire()
    bucket.acquire()
    t.now += 100  # long idle: only `burst` tokens accumulate
    assert bucket.acquire() == 0
    assert bucket.acquire() == 0
    assert bucket.acquire() == pytest.approx(0.5)


def test_token_bucket_thread_safe_reservations():
    t = FakeTime()
    bucket = TokenBucket(rate=10, burst=1, clock=t.clock, sleep=lambda s: t.sleeps.append(s))
    with ThreadPoolExecutor(8) as pool:
        waits = sorted(pool.map(lambda _: bucket.acquire(), range(20)))
    # clock frozen: each caller reserves the next 0.1 s slot exactly once
    assert waits == pytest.approx([0.1 * i for i in range(20)])


def test_token_bucket_validates():
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(1, burst=0)


def test_client_rate_limit_uses_injected_sleep(server, make_client, sleeps):
    server.on("GET", "/r", Reply(200, []))
    client = make_client(rate_limit=1.0)
    for _ in range(3):
        client.get_json("/r")
    assert len(sleeps) == 2
    assert 0.8 < sleeps[0] <= 1.0
    assert 1.8 < sleeps[1] <= 2.0


def test_concurrency_cap_never_exceeded(server, make_client):
    server.on("GET", "/slow", Reply(200, {"ok": 1}, delay=0.03))
    client = make_client(max_concurrency=3)
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: client.get_json("/slow"), range(10)))
    assert results == [{"ok": 1}] * 10
    assert server.max_in_flight == 3
    assert client.counters.requests == 10


def test_concurrent_threads_share_one_token(server, make_client):
    numbers = count(1)
    server.on(
        "POST",
        "/token",
        lambda seen: Reply(200, {"access_token": f"t{next(numbers)}", "expires_in": 3600}, delay=0.02),
    )
    server.on("GET", "/v", lambda seen: Reply(200, {"auth": seen.headers["Authorization"]}))
    auth = OAuthClientCredentials(f"{server.url}/token", "id", "secret-value")
    client = make_client(auth=auth, max_concurrency=4)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: client.get_json("/v"), range(16)))
    assert {r["auth"] for r in results} == {"Bearer t1"}
    assert len(server.hits("/token")) == 1
