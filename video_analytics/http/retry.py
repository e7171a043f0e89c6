"""Retry policy and shared request counters."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_COUNTER_NAMES = ("requests", "retries", "throttled", "errors", "bytes_received")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; jitter spreads out parallel workers that failed together."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 60.0
    jitter: float = 0.25
    retry_statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 500, 502, 503, 504}))

    def backoff(self, attempt: int, random_value: float) -> float:
        """Delay after failed attempt number ``attempt`` (1-based); ``random_value`` is in [0, 1)."""
        delay = min(self.base_delay * 2 ** (attempt - 1), self.max_delay)
        return max(0.0, delay * (1 + self.jitter * (2 * random_value - 1)))

    def honour_retry_after(self, seconds: float) -> float:
        """The server knows when it will accept us again, so obey it rather than our own schedule.

        Values up to twice ``max_delay`` are waited in full (retrying earlier just burns an attempt on
        another 429); anything longer is capped there so a quota reset hours away cannot hang a run.
        """
        return min(max(seconds, 0.0), self.max_delay * 2)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date; None if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


class RequestCounters:
    """Thread-safe tallies reported as Dagster materialization metadata."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(_COUNTER_NAMES, 0)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def __getattr__(self, name: str) -> int:
        if name in _COUNTER_NAMES:
            with self._lock:
                return self._values[name]
        raise AttributeError(name)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)

    def reset(self) -> None:
        with self._lock:
            self._values = dict.fromkeys(_COUNTER_NAMES, 0)

    def as_metadata(self, prefix: str = "api_") -> dict[str, int]:
        return {f"{prefix}{name}": value for name, value in self.snapshot().items()}

    def __repr__(self) -> str:
        return f"RequestCounters({self.snapshot()})"
