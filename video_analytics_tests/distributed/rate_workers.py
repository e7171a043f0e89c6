"""The worker process of the shared rate-limit test, in a module of its own so that a spawned process
imports only the Wistia client (not the simulator and the test's fixtures)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

from video_analytics.http.ratelimit import SHARED_RATE_LIMIT_URL_ENV

THREADS_PER_PROCESS = 8  # enough waiting that the shared pace, not request latency, sets the rate


def hammer(
    base_url: str,
    token: str,
    per_minute: float,
    media: list[str],
    shared_url: str,
    seconds: float,
    barrier,
    results,
) -> None:
    """One worker process: THREADS_PER_PROCESS threads asking for media stats until `seconds` have passed."""
    if shared_url:
        os.environ[SHARED_RATE_LIMIT_URL_ENV] = shared_url
    from video_analytics.http import RetryPolicy
    from video_analytics.wistia.client import WistiaClient

    retry = RetryPolicy(max_attempts=20, base_delay=0.05)
    options = {"requests_per_minute": per_minute, "max_concurrency": THREADS_PER_PROCESS, "retry": retry}
    with WistiaClient(token, base_url=base_url, **options) as client:
        barrier.wait()
        deadline = time.monotonic() + seconds

        def loop(offset: int) -> int:
            """Requests answered by the deadline (one still waiting for its turn then is not counted)."""
            done = 0
            while time.monotonic() < deadline:
                client.media_stats(media[(offset + done) % len(media)])
                done += time.monotonic() <= deadline
            return done

        with ThreadPoolExecutor(THREADS_PER_PROCESS) as pool:
            done = sum(pool.map(loop, range(THREADS_PER_PROCESS)))
        results.put((done, client.counters().get("throttled", 0)))
