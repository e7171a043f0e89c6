"""A local twin of Wistia's Data API (medias) and Stats API (CONTRACTS.md §3), legacy v1 paths.

Deterministic from one seed: the media catalogue is built once; each day's loads, plays and events are
generated from (seed, day) with numpy and cached, so `by_date`, the media totals and the event stream
always agree with each other. The vendor's awkward parts are reproduced on purpose: bare arrays with no
totals (`per_page` capped at 100, so a client that stops at 100 loses media), inclusive `by_date`
ranges, events kept two years only, blank geo data on some events, and a 600 requests/minute limit
answered with 429 or 503 (`WistiaKnobs.throttle_status`: both are seen in the wild) plus `Retry-After`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import string
import threading
from collections import deque
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from video_analytics.sandbox.server import BaseSimulator

SANDBOX_TOKEN = "sandbox-wistia-token"
SCALE_MEDIA = {"test": 130, "demo": 420}
SCALE_PLAYS = {"test": 1.5, "demo": 3.0}  # mean daily plays of an average media
RETENTION_DAYS = 730  # "events are kept for 2 years only"
VISITOR_DAYS = 30
PROJECTS = [("Marketing", 1), ("Product Tours", 2), ("Webinars", 3), ("Customer Stories", 4)]
_WORDS = ["Onboarding", "Pricing", "Launch", "Demo", "Tutorial", "Keynote", "Recap", "Teaser", "Webinar"]
_TAGS = ["sales", "product", "howto", "event", "brand", "support"]
_PLACES = [  # (country, region name, city, lat, lon, org)
    ("US", "Florida", "Miami", 25.77, -80.19, "Comcast Cable"),
    ("US", "California", "San Francisco", 37.77, -122.42, "AT&T Services"),
    ("US", "New York", "New York", 40.71, -74.0, "Verizon Business"),
    ("GB", "England", "London", 51.51, -0.13, "British Telecommunications"),
    ("DE", "Berlin", "Berlin", 52.52, 13.4, "Deutsche Telekom AG"),
    ("CA", "Ontario", "Toronto", 43.65, -79.38, "Rogers Communications"),
    ("IN", "Karnataka", "Bengaluru", 12.97, 77.59, "Bharti Airtel"),
    ("BR", "Sao Paulo", "Sao Paulo", -23.55, -46.63, "Claro S.A."),
]
_AGENTS = [
    {"browser": "Chrome", "browser_version": "120", "platform": "windows", "mobile": False},
    {"browser": "Safari", "browser_version": "17", "platform": "mac", "mobile": False},
    {"browser": "Mobile Safari", "browser_version": "17", "platform": "iphone", "mobile": True},
    {"browser": "Chrome", "browser_version": "119", "platform": "android", "mobile": True},
    {"browser": "Firefox", "browser_version": "121", "platform": "linux", "mobile": False},
]
_ALNUM = np.array(list(string.ascii_lowercase + string.digits))


@dataclasses.dataclass
class WistiaKnobs:
    """Vendor-specific switches (the contract disputes the throttle status; tests need a fast limit)."""

    requests_per_minute: int = 600
    window_seconds: float = 60.0  # the limit's window; tests shorten it to see a throttle clear quickly
    throttle_status: int = 429  # 429 (current docs) or 503 (2016 docs, still reported by teams)
    retry_after: str = "1"
    max_per_page: int = 100
    default_per_page: int = 10  # the documented default was wrong: really 10 (wistia-doc#151)
    blank_geo_as: str = "null"  # how events without geo data carry lat/lon: "null" or "empty"


@dataclasses.dataclass
class Media:
    index: int
    record: dict[str, Any]
    created_day: int
    duration: float
    popularity: float
    play_p: float
    engagement: float


class WistiaWorld:
    """The account: media, daily stats and events, all derived from `seed`."""

    def __init__(
        self, today: date | None = None, scale: str = "demo", seed: int = 7, media_count: int | None = None
    ) -> None:
        self.today = today or datetime.now(UTC).date()
        self.seed, self.scale = seed, scale
        self._lock = threading.Lock()
        self._days: dict[int, dict[str, np.ndarray]] = {}
        self._events: dict[int, list[dict[str, Any]]] = {}
        rng = np.random.default_rng([seed, 51])
        count = media_count if media_count is not None else SCALE_MEDIA[scale]
        self.media = [self._make_media(rng, i) for i in range(count)]
        self.by_key = {m.record["hashed_id"]: m for m in self.media}
        self.by_key.update({str(m.record["id"]): m for m in self.media})
        self.created = np.array([m.created_day for m in self.media], dtype=np.int64)
        self.popularity = np.array([m.popularity for m in self.media])
        self.play_p = np.array([m.play_p for m in self.media])
        self.duration = np.array([m.duration for m in self.media])

    # -- catalogue ---------------------------------------------------------------------------------
    def _make_media(self, rng: np.random.Generator, index: int) -> Media:
        created_day = self.today.toordinal() - int(rng.integers(3, 3 * 365))
        created = datetime.fromordinal(created_day).replace(tzinfo=UTC) + timedelta(
            seconds=int(rng.integers(0, 86400))
        )
        updated = created + timedelta(days=float(rng.random() * (self.today.toordinal() - created_day)))
        hashed = "".join(rng.choice(_ALNUM, 10))
        kind = "Audio" if rng.random() < 0.06 else "Video"
        duration = round(float(rng.lognormal(math.log(150), 0.8)), 3)
        project_name, project_id = PROJECTS[int(rng.integers(len(PROJECTS)))]
        name = f"{_pick(rng, _WORDS)} {_pick(rng, _WORDS)} #{index + 1}"
        status = "ready" if rng.random() < 0.97 else str(rng.choice(["processing", "failed"]))
        record = {
            "id": 1_000_000 + index * 37 + int(rng.integers(0, 30)),
            "name": name,
            "type": kind,
            "archived": bool(rng.random() < 0.08),
            "created": created.isoformat(timespec="seconds"),
            "updated": updated.replace(microsecond=0).isoformat(timespec="seconds"),
            "duration": duration,
            "hashed_id": hashed,
            "description": "" if rng.random() < 0.3 else f"<p>{name}</p>",
            "progress": 1.0 if status == "ready" else round(float(rng.random()), 2),
            "status": status,
            "thumbnail": {
                "url": f"https://embed-ssl.wistia.com/deliveries/{hashed}.jpg?image_crop_resized=200x120",
                "width": 200,
                "height": 120,
            },
            "project": {"id": project_id, "name": project_name, "hashed_id": f"proj{project_id:06d}"},
            "assets": [
                {
                    "url": f"https://embed-ssl.wistia.com/deliveries/{hashed}{suffix}.bin",
                    "width": width,
                    "height": width * 9 // 16,
                    "fileSize": int(duration * width * 900),
                    "contentType": "video/mp4",
                    "type": kind_name,
                }
                for suffix, width, kind_name in (("o", 1920, "OriginalFile"), ("m", 960, "Mp4VideoFile"))
            ],
            "tags": [{"name": str(t)} for t in rng.choice(_TAGS, int(rng.integers(0, 3)), replace=False)],
        }
        if rng.random() < 0.5:
            record["section"] = project_name
        return Media(
            index=index,
            record=record,
            created_day=created_day,
            duration=duration,
            popularity=float(rng.lognormal(0, 1.0)),
            play_p=float(rng.uniform(0.2, 0.8)),
            engagement=float(rng.beta(5, 3)),
        )

    # -- daily stats -------------------------------------------------------------------------------
    def day(self, ordinal: int) -> dict[str, np.ndarray]:
        """Loads, plays and seconds watched of every media on one day (zeros before it existed)."""
        with self._lock:
            cached = self._days.get(ordinal)
        if cached is not None:
            return cached
        rng = np.random.default_rng([self.seed, ordinal, 52])
        alive = (self.created <= ordinal) & (ordinal <= self.today.toordinal())
        mean = SCALE_PLAYS[self.scale] * self.popularity / self.play_p
        loads = np.where(alive, rng.poisson(mean), 0)
        plays = rng.binomial(loads, self.play_p)
        viewed = rng.beta(4, 3, len(plays))
        seconds = plays * viewed * self.duration
        block = {"loads": loads, "plays": plays, "seconds": seconds, "viewed": viewed}
        with self._lock:
            self._days[ordinal] = block
        return block

    def by_date(self, media: Media, first: date, last: date) -> list[dict[str, Any]]:
        rows = []
        last_ordinal = min(last, self.today).toordinal()
        for ordinal in range(max(first.toordinal(), media.created_day), last_ordinal + 1):
            block = self.day(ordinal)
            i = media.index
            rows.append(
                {
                    "date": date.fromordinal(ordinal).isoformat(),
                    "load_count": int(block["loads"][i]),
                    "play_count": int(block["plays"][i]),
                    "hours_watched": round(float(block["seconds"][i]) / 3600, 4),
                }
            )
        return rows

    def totals(self, media: Media) -> dict[str, Any]:
        rows = self.by_date(media, date.fromordinal(media.created_day), self.today)
        loads = sum(r["load_count"] for r in rows)
        plays = sum(r["play_count"] for r in rows)
        return {
            "load_count": loads,
            "play_count": plays,
            "play_rate": round(plays / loads, 4) if loads else 0.0,
            "hours_watched": round(sum(r["hours_watched"] for r in rows), 4),
            "engagement": round(media.engagement, 4),
            "visitors": int(loads * 0.83),
            "actions": [],
        }

    def engagement_graph(self, media: Media) -> dict[str, Any]:
        cells = max(1, min(1000, int(media.duration)))
        x = np.linspace(0, 1, cells)
        rng = np.random.default_rng([self.seed, media.index, 53])
        base = 1000 * np.exp(-x * (1 - media.engagement) * 3)
        return {
            "engagement": round(media.engagement, 4),
            "engagement_data": [int(v) for v in base * rng.uniform(0.95, 1.0, cells)],
            "rewatch_data": [int(v) for v in base * 0.1 * rng.uniform(0, 1, cells)],
        }

    # -- events ------------------------------------------------------------------------------------
    def events(self, ordinal: int) -> list[dict[str, Any]]:
        """One event per play of the day, newest first, like the API."""
        with self._lock:
            cached = self._events.get(ordinal)
        if cached is not None:
            return cached
        block = self.day(ordinal)
        rng = np.random.default_rng([self.seed, ordinal, 54])
        media_idx = np.repeat(np.arange(len(self.media)), block["plays"])
        n = len(media_idx)
        seconds = np.sort(rng.integers(0, 86400, n))[::-1]
        visitors = rng.zipf(1.6, n) % 5000  # returning visitors are common
        places = rng.integers(0, len(_PLACES), n)
        no_geo = rng.random(n) < 0.12
        pct = np.clip(rng.beta(2, 2, n), 0, 1)
        start = datetime.fromordinal(ordinal).replace(tzinfo=UTC)
        out = []
        for k in range(n):
            media = self.media[int(media_idx[k])].record
            ts = start + timedelta(seconds=int(seconds[k]), milliseconds=int(rng.integers(0, 1000)))
            out.append(self._event(rng, media, ts, int(visitors[k]), int(places[k]), bool(no_geo[k]), pct[k]))
        with self._lock:
            self._events[ordinal] = out
        return out

    def _event(
        self, rng: np.random.Generator, media: dict, ts: datetime, visitor: int, place: int, no_geo: bool, pct
    ) -> dict[str, Any]:
        country, region, city, lat, lon, org = _PLACES[place]
        key = f"{1_760_000 + visitor}_{rng.bytes(16).hex()}"
        return {
            "received_at": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
            "event_key": key,
            "visitor_key": f"v{self.seed:02d}{visitor:07d}",
            "embed_url": f"https://www.example.com/videos/{media['hashed_id']}",
            "percent_viewed": round(float(pct), 4),
            "ip": f"203.0.{visitor % 250}.{(visitor * 7) % 250}",
            "org": org,
            "country": None if no_geo else country,
            "region": None if no_geo else region,
            "city": None if no_geo else city,
            "lat": None if no_geo else lat,
            "lon": None if no_geo else lon,
            "email": f"viewer{visitor}@example.com" if visitor % 9 == 0 else None,
            "media_id": media["hashed_id"],
            "media_name": media["name"],
            "media_url": f"https://home.wistia.com/medias/{media['hashed_id']}",
            "iframe_heatmap_url": f"https://home.wistia.com/heatmap/{key}",
            "thumbnail": {k: media["thumbnail"][k] for k in ("url", "width", "height")},
            "conversion_type": "pre-roll-email" if visitor % 9 == 0 else None,
            "conversion_data": {},
            "user_agent_details": _AGENTS[visitor % len(_AGENTS)],
        }

    def visitors(self) -> list[dict[str, Any]]:
        """Every visitor active in the last `VISITOR_DAYS` days, once, most recently active first.

        (The real endpoint covers the whole retention; a shorter window keeps the twin fast.)
        """
        seen: dict[str, dict[str, Any]] = {}
        first = self.today.toordinal() - VISITOR_DAYS
        for ordinal in range(self.today.toordinal(), first - 1, -1):
            for event in reversed(self.events(ordinal)):
                entry = seen.setdefault(
                    event["visitor_key"],
                    {
                        "visitor_key": event["visitor_key"],
                        "created_at": event["received_at"],
                        "last_active_at": event["received_at"],
                        "last_event_key": event["event_key"],
                        "load_count": 0,
                        "play_count": 0,
                        "user_agent_details": event["user_agent_details"],
                    },
                )
                entry["created_at"] = min(entry["created_at"], event["received_at"])
                entry["play_count"] += 1
                entry["load_count"] += 1
        return list(seen.values())


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class WistiaSimulator(BaseSimulator):
    name = "wistia"

    def __init__(self, world: WistiaWorld, token: str = SANDBOX_TOKEN, knobs: WistiaKnobs | None = None):
        self.world, self.token = world, token
        self._window: deque[float] = deque()
        self._window_lock = asyncio.Lock()
        super().__init__(seed=world.seed)
        self.knobs = knobs or WistiaKnobs()

    def env(self, base_url: str) -> dict[str, str]:
        """Token, URL, and a client pace just under this account's limit."""
        return {
            "WISTIA_API_TOKEN": self.token,
            "WISTIA_BASE_URL": f"{base_url}/v1",
            "WISTIA_REQUESTS_PER_MINUTE": str(int(self.knobs.requests_per_minute * 0.95)),
        }

    def routes(self) -> list[Route]:
        def api(endpoint: str, handler):
            async def endpoint_fn(request: Request) -> Response:
                return await self.serve(request, endpoint, self._guard(handler), self._rate_gate)

            return endpoint_fn

        return [
            Route("/v1/medias.json", api("medias", self._medias)),
            Route("/v1/medias/{media_id}.json", api("media", self._media)),
            Route("/v1/stats/medias/{media_id}.json", api("stats.media", self._stats_media)),
            Route("/v1/stats/medias/{media_id}/by_date.json", api("stats.by_date", self._by_date)),
            Route("/v1/stats/medias/{media_id}/engagement.json", api("stats.engagement", self._engagement)),
            Route("/v1/stats/events.json", api("stats.events", self._events)),
            Route("/v1/stats/visitors.json", api("stats.visitors", self._visitors)),
        ]

    def set_knobs(self, values: dict[str, Any]) -> None:
        """A changed limit starts with a fresh window (tests and the admin endpoint rely on that)."""
        super().set_knobs(values)
        self._window.clear()

    # -- pipeline hooks ----------------------------------------------------------------------------
    def fault_response(self, endpoint: str, status: int) -> Response:
        if status == 429:
            status = self.knobs.throttle_status
            return Response("Rate limit exceeded", status_code=status, media_type="text/plain")
        return JSONResponse({"error": "Internal server error"}, status_code=status)

    def check_auth(self, request: Request, endpoint: str) -> Response | None:
        header = request.headers.get("authorization", "")
        if header != f"Bearer {self.token}":
            return JSONResponse({"error": "Invalid credentials."}, status_code=401)
        return None

    async def _rate_gate(self, request: Request, call) -> Response:
        """A sliding one-minute window per account; beyond it the throttle status with Retry-After."""
        async with self._window_lock:
            now = self.monotonic()
            while self._window and now - self._window[0] >= self.knobs.window_seconds:
                self._window.popleft()
            if len(self._window) >= self.knobs.requests_per_minute:
                self.stats.add("rate_limited")
                response = self.fault_response("", 429)
                response.headers["Retry-After"] = self.knobs.retry_after
                return response
            self._window.append(now)
        return await call()

    def _guard(self, handler):
        def run(request: Request) -> Response:
            try:
                return JSONResponse(handler(request))
            except ApiError as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status)

        return run

    # -- handlers ----------------------------------------------------------------------------------
    def _page(self, request: Request) -> tuple[int, int]:
        try:
            page = int(request.query_params.get("page", "1"))
            per_page = int(request.query_params.get("per_page", str(self.knobs.default_per_page)))
        except ValueError as exc:
            raise ApiError(400, "page and per_page must be integers") from exc
        if page < 1 or per_page < 1:
            raise ApiError(400, "page and per_page must be positive")
        return page, min(per_page, self.knobs.max_per_page)  # silently capped, like the real API

    def _find(self, request: Request) -> Media:
        media = self.world.by_key.get(request.path_params["media_id"])
        if media is None:
            raise ApiError(404, "Media not found")
        return media

    def _dates(self, request: Request) -> tuple[date, date]:
        params = request.query_params
        try:
            end = date.fromisoformat(params["end_date"]) if params.get("end_date") else self.world.today
            start = (
                date.fromisoformat(params["start_date"])
                if params.get("start_date")
                else self.world.today - timedelta(days=1)
            )
        except ValueError as exc:
            raise ApiError(400, "start_date and end_date must be YYYY-MM-DD") from exc
        if start > end:
            raise ApiError(400, "start_date must not be after end_date")
        return start, end

    def _medias(self, request: Request) -> list[dict[str, Any]]:
        page, per_page = self._page(request)
        records = [m.record for m in self.world.media]
        if request.query_params.get("archived") in ("true", "false"):
            wanted = request.query_params["archived"] == "true"
            records = [r for r in records if r["archived"] == wanted]
        return records[(page - 1) * per_page : page * per_page]

    def _media(self, request: Request) -> dict[str, Any]:
        return self._find(request).record

    def _stats_media(self, request: Request) -> dict[str, Any]:
        return self.world.totals(self._find(request))

    def _by_date(self, request: Request) -> list[dict[str, Any]]:
        media = self._find(request)
        start, end = self._dates(request)
        return self.world.by_date(media, start, end)

    def _engagement(self, request: Request) -> dict[str, Any]:
        return self.world.engagement_graph(self._find(request))

    def _events(self, request: Request) -> list[dict[str, Any]]:
        page, per_page = self._page(request)
        start, end = self._dates(request)
        oldest = self.world.today.toordinal() - RETENTION_DAYS
        media_id = request.query_params.get("media_id")
        skip, chosen = (page - 1) * per_page, []
        for ordinal in range(min(end, self.world.today).toordinal(), max(start.toordinal(), oldest) - 1, -1):
            day = self.world.events(ordinal)
            if media_id:
                day = [e for e in day if e["media_id"] == media_id]
            if skip >= len(day):  # a whole day before the page: skipped without copying it
                skip -= len(day)
                continue
            chosen.extend(day[skip : skip + per_page - len(chosen)])
            skip = 0
            if len(chosen) == per_page:
                break
        if self.knobs.blank_geo_as == "empty":
            chosen = [{**e, **{k: "" for k in ("lat", "lon") if e[k] is None}} for e in chosen]
        return chosen

    def _visitors(self, request: Request) -> list[dict[str, Any]]:
        page, per_page = self._page(request)
        return self.world.visitors()[(page - 1) * per_page : page * per_page]


#: The sandbox account's plan limit. Twenty times Wistia's 600/min so the demo's ~1,500 per-media calls take
#: seconds, not minutes; the tests exercise throttling at small limits with both 429 and 503.
SANDBOX_REQUESTS_PER_MINUTE = 12_000


def sandbox_simulator(sandbox) -> WistiaSimulator:
    """The sandbox's Wistia account at the sandbox's scale, seed and today."""
    world = WistiaWorld(today=sandbox.today, scale=sandbox.scale, seed=sandbox.seed)
    return WistiaSimulator(world, knobs=WistiaKnobs(requests_per_minute=SANDBOX_REQUESTS_PER_MINUTE))


__all__ = ["SANDBOX_TOKEN", "WistiaKnobs", "WistiaSimulator", "WistiaWorld", "sandbox_simulator"]


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    """``str(rng.choice(options))`` (the same draw from the same stream) without numpy's per-call
    array conversion, which made building the sandbox's catalogues take seconds."""
    return options[rng.integers(len(options))]
