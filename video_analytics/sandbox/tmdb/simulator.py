"""A local twin of the TMDB API v3 (CONTRACTS.md §4) with popularity that evolves day by day.

The world is deterministic from one seed. Every movie follows one trajectory kind (steady, surging,
fading, viral, rising, or a quiet "tail" movie that changes only on a few days), computed once as a
numpy matrix over `history_days` days ending at `today`, so every trend and virality category
occurs. Votes accumulate in proportion to popularity, so viral movies gain votes fast.

The simulated clock: TMDB serves only the present. The sandbox-only header `X-Sandbox-Date:
YYYY-MM-DD` (never sent in production, where the real API ignores or lacks it) makes `/discover`,
`/movie/popular` and `/movie/{id}` answer as of the end of that day, so backfills replay history.

Vendor behaviour reproduced: 20 results a page, page 1..500 (400 code 22 beyond), `/movie/changes`
with 100 ids a page and at most 14 days (422 code 20 beyond), `append_to_response` (at most 20,
400 code 27), auth by `api_key` or Bearer read token (401 code 7), about 40 requests a second with
429 code 25 beyond. The server's limiter is a token bucket of 40/s with a 40-request burst: TMDB
documents no algorithm (NOT FOUND), so `TMDBKnobs` makes rate, burst and Retry-After settable.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from video_analytics.sandbox.server import BaseSimulator

SANDBOX_API_KEY = "5a9d1e0c3b7f42e8a6c1d2b3e4f50617"  # 32 hex characters, like a real v3 key
SANDBOX_READ_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJzYW5kYm94In0.c2FuZGJveC1yZWFkLXRva2Vu"
SANDBOX_DATE_HEADER = "X-Sandbox-Date"
PAGE_SIZE = 20
MAX_PAGE = 500
CHANGES_PAGE_SIZE = 100
MAX_CHANGES_DAYS = 14
MAX_APPENDS = 20
SCALE_MOVIES = {"test": 160, "demo": 1250}
KINDS = ("steady", "surging", "fading", "viral", "rising", "tail")
KIND_WEIGHTS = (0.45, 0.1, 0.12, 0.05, 0.08, 0.2)
GENRES = {
    28: "Action",
    12: "Adventure",
    16: "Animation",
    35: "Comedy",
    80: "Crime",
    99: "Documentary",
    18: "Drama",
    10751: "Family",
    14: "Fantasy",
    27: "Horror",
    9648: "Mystery",
    10749: "Romance",
    878: "Science Fiction",
    53: "Thriller",
}
_WORDS_A = ["The Last", "Midnight", "Silent", "Broken", "Golden", "Hidden", "Electric", "Distant", "Red"]
_WORDS_B = ["Harbor", "Protocol", "Kingdom", "Signal", "Garden", "Empire", "Frontier", "Echo", "Voyage"]
_APPENDABLE = ("credits", "keywords", "release_dates", "images", "videos", "external_ids", "similar")


class TMDBError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclasses.dataclass
class TMDBKnobs:
    """Switches for what the contract leaves open (NOT FOUND) or tests toggle."""

    rate_limit_enabled: bool = True
    max_rps: float = 40.0
    burst: int = 40
    rate_limit_retry_after: str | None = None  # current docs promise no headers
    popularity_as_string: bool = False  # the 2014-era payload shape
    reported_total_pages: int | None = None  # e.g. 42471: TMDB reports more pages than it serves


class TMDBWorld:
    """Deterministic movies and their daily popularity, votes and rating over `history_days`."""

    def __init__(
        self, today: date | None = None, seed: int = 7, scale: str = "demo", movies: int | None = None
    ) -> None:
        self.today = today or datetime.now(UTC).date()
        self.seed, self.scale = seed, scale
        self.history_days = 400
        self.first_day = self.today - timedelta(days=self.history_days - 1)
        rng = np.random.default_rng([seed, 6])
        self.n = movies or SCALE_MOVIES[scale]
        self.ids = np.sort(rng.choice(np.arange(10_000, 1_300_000), size=self.n, replace=False))
        self.index = {int(movie_id): i for i, movie_id in enumerate(self.ids)}
        self.kind = rng.choice(len(KINDS), size=self.n, p=KIND_WEIGHTS)
        self._trajectories(rng)
        self.details = [self._metadata(rng, i) for i in range(self.n)]
        self._order_cache: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    # -- trajectories ------------------------------------------------------------------------------
    def _trajectories(self, rng: np.random.Generator) -> None:
        n, days = self.n, self.history_days
        t = np.arange(days)[None, :] - (days - 1)  # 0 = today, negative = past
        kind = self.kind[:, None]
        base = np.exp(rng.normal(3.4, 0.7, size=(n, 1)))  # ~30, heavy tail
        base = np.where(kind == KINDS.index("tail"), base * 0.05, base)
        onset = rng.integers(-30, 0, size=(n, 1))
        rate = rng.uniform(0.02, 0.09, size=(n, 1))
        after = np.maximum(t - onset, 0)
        wobble = 1 + 0.03 * np.sin(2 * np.pi * t / 7 + rng.uniform(0, 6.3, size=(n, 1)))
        noise = 1 + rng.normal(0, 0.01, size=(n, days))
        amplitude = rng.uniform(2.0, 14.0, size=(n, 1))
        width = rng.uniform(1.5, 5.0, size=(n, 1))
        factor = np.select(
            [kind == KINDS.index(k) for k in ("surging", "fading", "viral", "rising")],
            [
                np.exp(np.minimum(rate * after, 3.0)),
                np.exp(-np.minimum(rate * after, 3.0)),
                1 + amplitude / (1 + np.exp(-(t - onset) / width)),
                1 + 0.012 * after,
            ],
            default=1.0,
        )
        popularity = base * factor * wobble * noise
        # Quiet movies change only on some days; otherwise TMDB keeps serving yesterday's values.
        active = (rng.random((n, days)) < 0.08) | (kind != KINDS.index("tail"))
        active[:, 0] = True
        last = np.maximum.accumulate(np.where(active, np.arange(days)[None, :], 0), axis=1)
        popularity = np.take_along_axis(popularity, last, axis=1)
        viral = kind == KINDS.index("viral")
        per_pop = np.where(viral, rng.uniform(0.8, 3.0, size=(n, 1)), rng.uniform(0.05, 0.4, size=(n, 1)))
        start_votes = np.where(
            viral, rng.integers(300, 6000, size=(n, 1)), rng.integers(50, 25_000, size=(n, 1))
        )
        daily = np.where(active, np.floor(popularity * per_pop), 0)
        self.popularity = np.round(popularity, 3)
        self.vote_count = (start_votes + np.cumsum(daily, axis=1)).astype(np.int64)
        drift = np.cumsum(rng.normal(0, 0.004, size=(n, days)) * active, axis=1)
        self.vote_average = np.round(np.clip(rng.uniform(5.2, 8.4, size=(n, 1)) + drift, 0, 10), 3)
        self.changed = np.zeros((n, days), dtype=bool)
        self.changed[:, 1:] = (np.diff(self.popularity, axis=1) != 0) | (
            np.diff(self.vote_count, axis=1) != 0
        )

    def _metadata(self, rng: np.random.Generator, i: int) -> dict[str, Any]:
        movie_id = int(self.ids[i])
        kind = KINDS[self.kind[i]]
        recent = kind in ("viral", "surging", "rising")
        released = self.today - timedelta(
            days=int(rng.integers(5, 120) if recent else rng.integers(200, 9000))
        )
        genre_ids = [int(g) for g in rng.choice(list(GENRES), size=int(rng.integers(1, 4)), replace=False)]
        title = f"{_WORDS_A[i % len(_WORDS_A)]} {_WORDS_B[(i * 7 + self.seed) % len(_WORDS_B)]} {i + 1}"
        budget = int(rng.integers(0, 250)) * 1_000_000
        return {
            "adult": False,
            "backdrop_path": f"/b{movie_id}.jpg",
            "belongs_to_collection": None,
            "budget": budget,
            "genres": [{"id": g, "name": GENRES[g]} for g in genre_ids],
            "homepage": "",
            "id": movie_id,
            "imdb_id": f"tt{movie_id:07d}",
            "original_language": str(rng.choice(["en", "en", "en", "fr", "ko", "ja", "es"])),
            "original_title": title,
            "overview": f"Overview of {title}.",
            "poster_path": f"/p{movie_id}.jpg",
            "production_companies": [],
            "production_countries": [{"iso_3166_1": "US", "name": "United States of America"}],
            "release_date": "" if i % 97 == 13 else released.isoformat(),
            "revenue": int(budget * rng.uniform(0, 4)) if budget else 0,
            "runtime": int(rng.integers(80, 170)),
            "spoken_languages": [{"english_name": "English", "iso_639_1": "en", "name": "English"}],
            "status": "Released",
            "tagline": "",
            "title": title,
            "video": False,
        }

    # -- views of the world ------------------------------------------------------------------------
    def day_index(self, day: date) -> int:
        """Column of `day`; days before the simulated history serve its first day."""
        return max(0, (day - self.first_day).days)

    def ranking(self, day: date) -> np.ndarray:
        """Movie indexes by popularity, highest first (ties by id), as of `day`."""
        d = self.day_index(day)
        with self._lock:
            if d not in self._order_cache:
                self._order_cache[d] = np.lexsort((self.ids, -self.popularity[:, d]))
            return self._order_cache[d]

    def state(self, i: int, day: date) -> dict[str, Any]:
        d = self.day_index(day)
        return {
            "popularity": float(self.popularity[i, d]),
            "vote_count": int(self.vote_count[i, d]),
            "vote_average": float(self.vote_average[i, d]),
        }

    def list_item(self, i: int, day: date) -> dict[str, Any]:
        meta = self.details[i]
        keys = ("adult", "backdrop_path", "id", "original_language", "original_title", "overview")
        keys += ("poster_path", "release_date", "title", "video")
        item = {k: meta[k] for k in keys}
        item["genre_ids"] = [g["id"] for g in meta["genres"]]
        return {**item, **self.state(i, day)}

    def changed_ids(self, start: date, end: date) -> list[int]:
        first, last = self.day_index(start), self.day_index(end)
        if end < self.first_day or last < first:
            return []
        hit = self.changed[:, first : last + 1].any(axis=1)
        return [int(x) for x in self.ids[hit]]


# ------------------------------------------------------------------------------------------------
# HTTP
# ------------------------------------------------------------------------------------------------


class TMDBSimulator(BaseSimulator):
    """Serves `/3/...` from one `TMDBWorld`."""

    name = "tmdb"

    def __init__(
        self, world: TMDBWorld | None = None, api_key: str = SANDBOX_API_KEY, token: str = SANDBOX_READ_TOKEN
    ) -> None:
        self.world = world or TMDBWorld()
        self.api_key, self.token = api_key, token
        self._bucket_lock = threading.Lock()
        self._tokens = 0.0
        self._stamp = 0.0
        self._window_count = 0
        super().__init__(seed=self.world.seed)
        self.knobs = TMDBKnobs()
        self._tokens = float(self.knobs.burst)
        self.client_rate: float | None = None  # requests/s the sandbox tells the client, if not TMDB's

    def env(self, base_url: str) -> dict[str, str]:
        env = {"TMDB_BASE_URL": f"{base_url}/3", "TMDB_API_KEY": self.api_key}
        if self.client_rate is not None:
            env["TMDB_REQUESTS_PER_SECOND"] = f"{self.client_rate:g}"
        return env

    def set_knobs(self, values: dict[str, Any]) -> None:
        """A changed limit starts with a full bucket (tests and the admin endpoint rely on that)."""
        super().set_knobs(values)
        with self._bucket_lock:
            self._tokens, self._stamp = float(self.knobs.burst), self.monotonic()

    def routes(self) -> list[Route]:
        def api(endpoint: str, handler):
            async def endpoint_fn(request: Request) -> Response:
                return await self.serve(request, endpoint, self._guard(handler), self._gate)

            return endpoint_fn

        return [
            Route("/3/discover/movie", api("discover", self._discover)),
            Route("/3/movie/popular", api("popular", self._popular)),
            Route("/3/movie/changes", api("changes", self._changes)),
            Route("/3/movie/{movie_id}", api("movie", self._movie)),
        ]

    # -- errors, auth, rate limit ------------------------------------------------------------------
    @staticmethod
    def error(status: int, code: int, message: str) -> Response:
        return JSONResponse(
            {"success": False, "status_code": code, "status_message": message}, status_code=status
        )

    def fault_response(self, endpoint: str, status: int) -> Response:
        if status == 429:
            return self.error(429, 25, "Your request count (41) is over the allowed limit of 40.")
        return self.error(status, 11, "Internal error: Something went wrong, contact TMDb.")

    def check_auth(self, request: Request, endpoint: str) -> Response | None:
        header = request.headers.get("authorization", "")
        bearer = header[7:] if header.lower().startswith("bearer ") else None
        if bearer == self.token or (bearer is None and request.query_params.get("api_key") == self.api_key):
            return None
        return self.error(401, 7, "Invalid API key: You must be granted a valid key.")

    async def _gate(self, request: Request, call) -> Response:
        knobs = self.knobs
        if knobs.rate_limit_enabled:
            with self._bucket_lock:
                now = self.monotonic()
                elapsed = max(0.0, now - self._stamp)  # a test may unwind the clock it had advanced
                self._tokens = min(knobs.burst, self._tokens + elapsed * knobs.max_rps)
                self._stamp = now
                allowed = self._tokens >= 1
                if allowed:
                    self._tokens -= 1
            if not allowed:
                response = self.error(
                    429, 25, f"Your request count is over the allowed limit of {knobs.max_rps:g}."
                )
                if knobs.rate_limit_retry_after:
                    response.headers["Retry-After"] = knobs.rate_limit_retry_after
                return response
        return await call()

    def _guard(self, handler):
        def run(request: Request) -> Response:
            try:
                return JSONResponse(handler(request))
            except TMDBError as exc:
                return self.error(exc.status, exc.code, exc.message)

        return run

    # -- clock and parameters ----------------------------------------------------------------------
    def as_of(self, request: Request) -> date:
        """The day whose end-of-day state is served: today, or the sandbox header's day."""
        raw = request.headers.get(SANDBOX_DATE_HEADER)
        if not raw:
            return self.world.today
        day = _parse_date(raw, SANDBOX_DATE_HEADER)
        if day > self.world.today:
            raise TMDBError(400, 23, f"Invalid date: {SANDBOX_DATE_HEADER} {day} is after today")
        return day

    @staticmethod
    def page(request: Request) -> int:
        raw = request.query_params.get("page", "1")
        try:
            page = int(raw)
        except ValueError:
            page = 0
        if not 1 <= page <= MAX_PAGE:
            raise TMDBError(
                400, 22, "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer."
            )
        return page

    # -- endpoints ---------------------------------------------------------------------------------
    def _ranked_page(self, request: Request, ascending: bool = False) -> dict[str, Any]:
        page, day = self.page(request), self.as_of(request)
        order = self.world.ranking(day)
        order = order[::-1] if ascending else order
        chosen = order[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        results = [self.world.list_item(int(i), day) for i in chosen]
        if self.knobs.popularity_as_string:
            for item in results:
                item["popularity"] = str(item["popularity"])
        return {
            "page": page,
            "results": results,
            "total_pages": self.knobs.reported_total_pages or math.ceil(self.world.n / PAGE_SIZE),
            "total_results": self.world.n,
        }

    def _discover(self, request: Request) -> dict[str, Any]:
        sort_by = request.query_params.get("sort_by", "popularity.desc")
        if sort_by not in ("popularity.desc", "popularity.asc"):
            raise TMDBError(422, 47, f"The input is not valid: sort_by {sort_by} is not simulated")
        return self._ranked_page(request, ascending=sort_by == "popularity.asc")

    def _popular(self, request: Request) -> dict[str, Any]:
        return self._ranked_page(request)

    def _changes(self, request: Request) -> dict[str, Any]:
        today = self.world.today
        params = request.query_params
        end = _parse_date(params["end_date"], "end_date") if params.get("end_date") else today
        start = _parse_date(params["start_date"], "start_date") if params.get("start_date") else end
        if end < start or (end - start).days + 1 > MAX_CHANGES_DAYS:
            raise TMDBError(422, 20, "Invalid date range: Should be a range no longer than 14 days.")
        page = self.page(request)
        ids = self.world.changed_ids(start, min(end, today))
        chunk = ids[(page - 1) * CHANGES_PAGE_SIZE : page * CHANGES_PAGE_SIZE]
        return {
            "results": [{"id": movie_id, "adult": False} for movie_id in chunk],
            "page": page,
            "total_pages": max(1, math.ceil(len(ids) / CHANGES_PAGE_SIZE)),
            "total_results": len(ids),
        }

    def _movie(self, request: Request) -> dict[str, Any]:
        raw = request.path_params["movie_id"]
        i = self.world.index.get(int(raw)) if raw.isdigit() else None
        if i is None:
            raise TMDBError(404, 34, "The resource you requested could not be found.")
        appends = [a for a in request.query_params.get("append_to_response", "").split(",") if a]
        if len(appends) > MAX_APPENDS:
            raise TMDBError(
                400, 27, "Too many append to response objects: The maximum number of remote calls is 20."
            )
        day = self.as_of(request)
        body = {**self.world.details[i], **self.world.state(i, day)}
        if self.knobs.popularity_as_string:
            body["popularity"] = str(body["popularity"])
        for name in appends:
            if name in _APPENDABLE:
                body[name] = _appended(name, body)
        return body


def _appended(name: str, movie: dict[str, Any]) -> dict[str, Any]:
    if name == "credits":
        return {"id": movie["id"], "cast": [], "crew": []}
    if name == "keywords":
        return {
            "id": movie["id"],
            "keywords": [{"id": g["id"], "name": g["name"].lower()} for g in movie["genres"]],
        }
    if name == "external_ids":
        return {"imdb_id": movie["imdb_id"]}
    return {"id": movie["id"], "results": []}


def _parse_date(raw: str, name: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise TMDBError(400, 23, f"Invalid date: {name} must be YYYY-MM-DD") from None


#: The demo's TMDB answers 10x TMDB's rate: there the rate only costs waiting (59 s of a 144 s demo).
#: The `test` scale keeps TMDB's 40/s, which the client's pacing tests rely on.
DEMO_REQUESTS_PER_SECOND = 400.0


def sandbox_simulator(sandbox) -> TMDBSimulator:
    """The sandbox's TMDB at the sandbox's scale, seed and today."""
    simulator = TMDBSimulator(TMDBWorld(today=sandbox.today, seed=sandbox.seed, scale=sandbox.scale))
    if sandbox.scale == "demo":
        simulator.set_knobs({"max_rps": DEMO_REQUESTS_PER_SECOND, "burst": int(DEMO_REQUESTS_PER_SECOND)})
        simulator.client_rate = DEMO_REQUESTS_PER_SECOND * 0.95  # as DEFAULT_RATE is to TMDB's 40/s
    return simulator
