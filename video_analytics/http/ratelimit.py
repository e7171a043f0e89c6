"""Client-side rate limiting, so parallel workers stay under a vendor's published request rate."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from video_analytics.settings import shared_rate_limit_url


class TokenBucket:
    """Grants ``rate`` acquisitions per second after an initial ``burst``; ``acquire`` blocks.

    Each caller reserves its token under the lock (the balance may go negative) and then sleeps outside
    it, so waiting threads are served in arrival order without holding the lock while asleep.
    """

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = burst if burst is not None else max(1, int(rate))
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._stamp = clock()

    def acquire(self) -> float:
        """Take one token, sleeping if needed; returns the seconds waited (handy for metrics/tests)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


#: Where the limits of vendor accounts are kept when several processes or machines call one account
#: (``redis://host:6379/0``). Unset: every process paces itself with its own in-memory ``TokenBucket``.
SHARED_RATE_LIMIT_URL_ENV = "VIDEO_ANALYTICS_RATE_LIMIT_URL"
KEY_PREFIX = "video_analytics:ratelimit:"


class SharedRateLimit:
    """At most ``rate`` requests per second for one key, paced in Redis for every process that uses it.

    pyrate-limiter's GCRA keeps one timestamp per key in Redis and moves it in one Lua script, so two
    workers calling one Wistia account share its 600 requests/minute instead of each taking 570.
    Requests are spaced evenly (a burst of one): a vendor counting a sliding window never sees the
    bunching that a "N per window" log allows at window edges, where jitter tips it over the limit.

    The wait loop is ours, not ``Limiter.try_acquire``'s: that one re-asks with the first timestamp
    plus the time it meant to sleep, which falls behind the clock whenever a sleep overruns (a loaded
    host), so waiters lose turns and throughput drops. Each ask here carries the current time. The
    clock is each host's wall clock (hosts of one deployment run NTP).
    """

    def __init__(self, url: str, key: str, rate: float, sleep: Callable[[float], None] = time.sleep) -> None:
        import redis
        from pyrate_limiter import GCRA, Rate, RedisStateStore, StateBucket, WallClock

        if rate <= 0:
            raise ValueError("rate must be positive")
        self.key = KEY_PREFIX + key
        self.rate = float(rate)
        self._redis = redis.Redis.from_url(url)
        # one request every 1/rate s, in whole microseconds: `rate * 1000` per 1000 s
        spacing = Rate(max(1, round(rate * 1000)), 1_000_000, burst=1)
        self._bucket = StateBucket([spacing], GCRA(), RedisStateStore(self._redis, self.key))
        self._clock = WallClock()
        self._sleep = sleep
        self._lock = threading.Lock()  # a bucket remembers its last verdict: ask and read it together

    def acquire(self) -> float:
        """Take one request of the shared budget, sleeping until its turn; returns seconds waited."""
        from pyrate_limiter import RateItem

        waited = 0.0
        while True:
            with self._lock:
                item = RateItem(self.key, self._clock.now())
                if self._put(item):
                    return waited
                wait = max(1, self._bucket.waiting(item)) / 1000
            self._sleep(wait)
            waited += wait

    def _put(self, item: object) -> bool:
        import redis

        try:
            return self._bucket.put(item)
        except redis.exceptions.ConnectionError as exc:  # the URL may hold a password: not repeated here
            raise ConnectionError(
                f"the shared rate-limit store ({SHARED_RATE_LIMIT_URL_ENV}) is unreachable: {exc}; "
                f"start it, fix {SHARED_RATE_LIMIT_URL_ENV}, or unset it to pace each process on its own"
            ) from exc

    def close(self) -> None:
        self._redis.close()


def account_limiter(
    api: str,
    account: str,
    rate: float,
    burst: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TokenBucket | SharedRateLimit:
    """The limiter for one vendor account: shared through Redis when ``VIDEO_ANALYTICS_RATE_LIMIT_URL``
    is set (read when a client is built, i.e. at run time in each worker), else in this process only.

    ``account`` names the account, not its credential: callers pass a digest (see ``account_id``).
    """
    url = shared_rate_limit_url()
    if url:
        return SharedRateLimit(url, f"{api}:{account}", rate)
    return TokenBucket(rate, burst=burst, clock=clock, sleep=sleep)


def account_id(secret: str) -> str:
    """A stable name for the account a credential belongs to, safe to put in a Redis key."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]
