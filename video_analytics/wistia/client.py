"""Wistia Data API + Stats API client (legacy v1 paths; no Dagster here).

Where we differ from the original Glue script on purpose:

* Every media of the account, paged with an explicit `per_page=100` until a short page. The original
  used a hard-coded list of two media; other integrations stopped at the first 100 because responses
  carry no total (contentful/apps#2737), and the documented default page size was wrong (10).
* Events are fetched for the whole account, not per media: each day of the range is paged on its own,
  the days concurrently (the responses carry no total, so one range's pages can only be read one after
  another, which leaves the rate limit idle), and de-duplicated on `event_key` (pages of a live stream
  can shift while we read).
* Both 429 and 503 are throttle signals (the docs disagree) and `Retry-After` is honoured; the client
  paces itself below the 600 requests/minute account limit in the first place.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

from video_analytics.http import ApiClient, BearerToken, ResponseFormatError, RetryPolicy, iter_numbered_pages

log = logging.getLogger(__name__)

PRODUCTION_BASE_URL = "https://api.wistia.com/v1"
PER_PAGE = 100  # the maximum; always sent, since the default is disputed
REQUESTS_PER_MINUTE = 600
RETENTION_DAYS = 730


class WistiaClient:
    """Typed access to the endpoints of the dimensional model, sharing one rate budget."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = PRODUCTION_BASE_URL,
        requests_per_minute: float = REQUESTS_PER_MINUTE * 0.95,
        max_concurrency: int = 4,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`clock` and `sleep` pace the rate limit and the waits for Retry-After: tests pass a simulator's."""
        self.max_concurrency = max_concurrency
        self.api = ApiClient(
            "wistia",
            base_url,
            auth=BearerToken(token),
            rate_limit=requests_per_minute / 60 if requests_per_minute else None,
            max_concurrency=max_concurrency,
            retry=retry or RetryPolicy(),
            clock=clock,
            sleep=sleep,
        )

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> WistiaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def counters(self) -> dict[str, int]:
        return self.api.counters.as_metadata()

    # -- Data API ------------------------------------------------------------------------------------
    def list_medias(self) -> list[dict[str, Any]]:
        """Every media, archived included, each once (by numeric id)."""
        medias: dict[int, dict[str, Any]] = {}
        for page in iter_numbered_pages(lambda n: self._array("medias.json", {"page": n}, "id"), PER_PAGE):
            medias.update((m["id"], m) for m in page)
        log.info("wistia: %d media", len(medias))
        return list(medias.values())

    # -- Stats API -----------------------------------------------------------------------------------
    def media_stats(self, hashed_id: str) -> dict[str, Any]:
        return self._object(f"stats/medias/{hashed_id}.json", ("load_count", "play_count"))

    def media_by_date(self, hashed_id: str, start: date, end: date) -> list[dict[str, Any]]:
        """Daily loads, plays and hours for `start..end`, both inclusive."""
        params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
        return self._array(f"stats/medias/{hashed_id}/by_date.json", params, "date", paged=False)

    def media_engagement(self, hashed_id: str) -> dict[str, Any]:
        return self._object(f"stats/medias/{hashed_id}/engagement.json", ("engagement_data",))

    def events(self, start: date, end: date) -> list[dict[str, Any]]:
        """Every event received in `start..end` (inclusive), each once by `event_key`, newest day first."""
        days = [end - timedelta(days=i) for i in range((end - start).days + 1)]
        with ThreadPoolExecutor(max_workers=max(1, min(self.max_concurrency, len(days)))) as pool:
            per_day = list(pool.map(self._events_of_day, days))
        found: dict[str, dict[str, Any]] = {}
        for events in per_day:
            found.update((e["event_key"], e) for e in events)
        log.info("wistia events %s..%s: %d events", start, end, len(found))
        return list(found.values())

    def _events_of_day(self, day: date) -> list[dict[str, Any]]:
        """One day's events, paged until a short page."""
        params = {"start_date": day.isoformat(), "end_date": day.isoformat()}
        pages = iter_numbered_pages(
            lambda n: self._array("stats/events.json", {**params, "page": n}, "event_key"), PER_PAGE
        )
        return [event for page in pages for event in page]

    def _object(self, path: str, keys: tuple[str, ...]) -> dict[str, Any]:
        body = self.api.get_json(path)
        if not isinstance(body, dict) or any(k not in body for k in keys):
            self.api.counters.add("errors")
            raise ResponseFormatError(
                "wistia", "GET", path, status=200, detail=f"expected an object with {', '.join(keys)}"
            )
        return body

    def _array(self, path: str, params: dict[str, Any], key: str, paged: bool = True) -> list[dict[str, Any]]:
        body = self.api.get_json(path, {**params, "per_page": PER_PAGE} if paged else params)
        if not isinstance(body, list) or not all(isinstance(item, dict) and key in item for item in body):
            self.api.counters.add("errors")
            raise ResponseFormatError(
                "wistia", "GET", path, status=200, detail=f"expected a JSON array of objects with {key!r}"
            )
        return body
