"""TMDB API v3 client (no Dagster here): ranked lists, movie details, the changes feed.

Limits are respected on the client side so they are never hit by construction: list pages stop at
500, change windows span at most 14 days, appends at most 20. Requests fan out over a thread pool
while one shared token bucket keeps the whole client just under TMDB's ~40 requests/second.

`as_of` is the sandbox clock: when given, the request carries `X-Sandbox-Date` so the simulator
answers as of that day. Only the sandbox profile passes it (see `resources.TMDBResource`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

from video_analytics.http import (
    ApiClient,
    ApiError,
    BearerToken,
    QueryParamKey,
    ResponseFormatError,
    RetryPolicy,
)

log = logging.getLogger(__name__)

PRODUCTION_BASE_URL = "https://api.themoviedb.org/3"
SANDBOX_DATE_HEADER = "X-Sandbox-Date"
PAGE_SIZE = 20
MAX_PAGE = 500
MAX_CHANGES_DAYS = 14
MAX_APPENDS = 20
DEFAULT_RATE = 38.0  # 5% under TMDB's ~40/s, so jitter in arrival times never trips its limiter


class TMDBClient:
    """Typed, concurrent access to the endpoints the pipeline needs; one rate limit for all threads."""

    def __init__(
        self,
        base_url: str = PRODUCTION_BASE_URL,
        *,
        api_key: str | None = None,
        read_access_token: str | None = None,
        rate_limit: float = DEFAULT_RATE,
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`clock` and `sleep` pace the rate limit (and retries): tests pass a simulator's clock."""
        if read_access_token:
            auth: Any = BearerToken(read_access_token)
        elif api_key:
            auth = QueryParamKey("api_key", api_key)
        else:
            raise ValueError("TMDB needs TMDB_API_KEY or TMDB_READ_ACCESS_TOKEN; neither is set")
        self.max_concurrency = max_concurrency
        # A burst of one token: how TMDB counts is undocumented, and if it counts per rolling second a
        # full bucket at start would send ~2x the rate in the first second.
        self.http = ApiClient(
            "tmdb",
            base_url.rstrip("/") + "/",
            auth=auth,
            rate_limit=rate_limit,
            rate_burst=1,
            max_concurrency=max_concurrency,
            retry=retry,
            clock=clock,
            sleep=sleep,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TMDBClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def counters(self) -> dict[str, int]:
        return self.http.counters.as_metadata()

    def _get(self, path: str, params: dict[str, Any] | None, as_of: date | None, what: str) -> dict:
        """GET JSON; in the sandbox the simulated day travels in a header."""
        headers = {SANDBOX_DATE_HEADER: as_of.isoformat()} if as_of else None
        body = self.http.get_json(path, params, headers=headers)
        if not isinstance(body, dict):
            raise ResponseFormatError("tmdb", "GET", "/" + path, status=200, detail=f"expected {what}")
        return body

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """Run `fn` over `items` on the client's worker threads (order kept)."""
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            return list(pool.map(fn, items))

    # -- ranked lists ------------------------------------------------------------------------------
    def list_page(self, page: int, as_of: date | None = None, endpoint: str = "discover/movie") -> dict:
        if not 1 <= page <= MAX_PAGE:
            raise ValueError(f"TMDB serves list pages 1..{MAX_PAGE}; page {page} was not requested")
        params = (
            {"sort_by": "popularity.desc", "page": page} if endpoint == "discover/movie" else {"page": page}
        )
        body = self._get(endpoint, params, as_of, "{page, results, total_pages}")
        results = body.get("results")
        if not isinstance(results, list) or not all(isinstance(r, dict) and "id" in r for r in results):
            raise ResponseFormatError("tmdb", "GET", f"/{endpoint}", status=200, detail="results without ids")
        return body

    def most_popular(self, n: int, as_of: date | None = None) -> list[dict[str, Any]]:
        """The `n` most popular movies (discover, popularity.desc), each once, with `rank` 1..n."""
        pages = math.ceil(n / PAGE_SIZE)
        if pages > MAX_PAGE:
            raise ValueError(
                f"TMDB lists stop at {MAX_PAGE} pages ({MAX_PAGE * PAGE_SIZE} movies); asked {n}"
            )
        if n <= 0:
            return []
        first = self.list_page(1, as_of)
        total = int(first.get("total_pages") or 1)
        rest = self.map(lambda p: self.list_page(p, as_of), range(2, min(pages, total, MAX_PAGE) + 1))
        movies: dict[int, dict[str, Any]] = {}
        for body in (first, *rest):
            for item in body["results"]:
                movies.setdefault(int(item["id"]), item)  # a movie shifting pages mid-read counts once
        ranked = list(movies.values())[:n]
        return [{**item, "rank": rank} for rank, item in enumerate(ranked, start=1)]

    # -- details -----------------------------------------------------------------------------------
    def movie(self, movie_id: int, as_of: date | None = None, append: Sequence[str] = ()) -> dict | None:
        """One movie's details, or None if TMDB no longer has it (404 code 34)."""
        if len(append) > MAX_APPENDS:
            raise ValueError(f"TMDB allows at most {MAX_APPENDS} append_to_response items, got {len(append)}")
        params = {"append_to_response": ",".join(append)} if append else None
        try:
            body = self._get(f"movie/{int(movie_id)}", params, as_of, "a movie object")
        except ApiError as exc:
            if exc.status == 404:
                log.warning("tmdb movie %s no longer exists (404); skipped", movie_id)
                return None
            raise
        if body.get("id") != int(movie_id):
            raise ResponseFormatError(
                "tmdb", "GET", f"/movie/{movie_id}", status=200, detail="wrong or no id"
            )
        return body

    def movies(self, ids: Iterable[int], as_of: date | None = None, append: Sequence[str] = ()) -> list[dict]:
        """Details of many movies fetched concurrently; movies TMDB no longer has are left out."""
        found = self.map(lambda movie_id: self.movie(movie_id, as_of, append), list(ids))
        return [body for body in found if body is not None]

    # -- changes feed ------------------------------------------------------------------------------
    def changed_ids(self, start: date, end: date) -> list[int]:
        """Ids TMDB reports changed in [start, end], asked in windows of at most 14 days."""
        ids: set[int] = set()
        for first, last in change_windows(start, end):
            ids.update(self._changes_window(first, last))
        return sorted(ids)

    def recent_changes(self) -> list[int]:
        """Ids changed in the last 24 hours (the feed's default window)."""
        return sorted(set(self._changes_window(None, None)))

    def _changes_window(self, start: date | None, end: date | None) -> list[int]:
        params: dict[str, Any] = {"page": 1}
        if start and end:
            params.update(start_date=start.isoformat(), end_date=end.isoformat())
        first = self._changes_page(params)
        total = min(int(first.get("total_pages") or 1), MAX_PAGE)
        rest = self.map(lambda p: self._changes_page({**params, "page": p}), range(2, total + 1))
        return [int(r["id"]) for body in (first, *rest) for r in body["results"]]

    def _changes_page(self, params: dict[str, Any]) -> dict:
        body = self._get("movie/changes", params, None, "{results, page, total_pages}")
        results = body.get("results")
        if not isinstance(results, list) or not all(isinstance(r, dict) and "id" in r for r in results):
            raise ResponseFormatError(
                "tmdb", "GET", "/movie/changes", status=200, detail="results without ids"
            )
        return body


def change_windows(start: date, end: date, max_days: int = MAX_CHANGES_DAYS) -> list[tuple[date, date]]:
    """Consecutive inclusive windows of at most `max_days` days covering [start, end]."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    windows = []
    while start <= end:
        last = min(end, start + timedelta(days=max_days - 1))
        windows.append((start, last))
        start = last + timedelta(days=1)
    return windows
