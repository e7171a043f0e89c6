"""A faithful local twin of Brightcove's OAuth, CMS and Analytics APIs (CONTRACTS.md §1).

The world is deterministic from one seed: video catalogues are built once, and daily analytics are
generated per (account, day) with numpy and cached, so multi-year reports stay fast. The vendor's
awkward behaviour is reproduced on purpose (tied-row paging shuffles, identical-query 429s,
provisional recent days, strict validation) because that is what the real clients must survive.
Behaviour the contract marks NOT FOUND is a knob on `BrightcoveKnobs`.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import math
import re
import secrets
import threading
import uuid
from collections import defaultdict, deque
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from video_analytics.sandbox.server import BaseSimulator

DEFAULT_ACCOUNTS: dict[str, str] = {
    "internet": "1197194721001",
    "intranet": "4413047246001",
    "neo": "5972928207001",
    "research": "3467683096001",
    "research_internal": "3731172721001",
}
SANDBOX_CLIENT_ID = "sandbox-brightcove-client"
SANDBOX_CLIENT_SECRET = "sandbox-brightcove-secret"
DEVICES = ("desktop", "mobile", "other", "tablet", "tv")  # alphabetical, so the code order is the sort order
ENGAGEMENT_POINTS = (1, 25, 50, 75, 100)
WEEKLY = np.array([1.08, 1.12, 1.1, 1.05, 0.95, 0.62, 0.58])  # Mon..Sun: office-hours content
SCALE_VIDEOS = {"test": (20, 61), "demo": (300, 1501)}

_WORDS_A = [
    "Market",
    "Quarterly",
    "CIO",
    "Global",
    "Sustainable",
    "Digital",
    "Macro",
    "Client",
    "Town Hall",
    "Research",
    "Equity",
    "Credit",
    "Wealth",
    "Annual",
    "Leadership",
    "Innovation",
]
_WORDS_B = [
    "Outlook",
    "Update",
    "Briefing",
    "Insights",
    "Deep Dive",
    "Roundtable",
    "Explainer",
    "Highlights",
    "Interview",
    "Webinar",
    "Keynote",
    "Podcast",
    "Q&A",
    "Recap",
]
_TAGS = [
    "markets",
    "research",
    "webinar",
    "esg",
    "internal",
    "town hall",
    "podcast",
    "interview",
    "macro",
    "equities",
    "fixed income",
    "wealth",
    "careers",
    "events",
    "training",
]
_CUSTOM = {
    "video_content_type": ["Webinar", "Interview", "Explainer", "Event", "Podcast", "Advertisement"],
    "video_category": ["Markets", "Research", "Corporate", "Education", "Marketing"],
    "country": ["CH", "US", "GB", "DE", "SG", "HK"],
    "language": ["en", "de", "fr", "it", "zh"],
    "business_unit": ["Wealth Management", "Investment Bank", "Asset Management", "Group Functions"],
}
_EMAILS = ["anna.meier", "john.smith", "li.wei", "marco.rossi", "sarah.jones", "video.team"]


@dataclasses.dataclass
class BrightcoveKnobs:
    """Vendor-specific switches, for behaviour the contract does not pin down (NOT FOUND) or tests toggle."""

    rate_limit_enabled: bool = True
    max_rps: int = 10
    max_concurrent: int = 20
    rate_limit_retry_after: str | None = None  # no rate-limit headers are documented
    oauth_error_status: int = 401
    oauth_error_body: dict[str, Any] | None = None
    count_overestimate: int = 0  # counts "should err on the side of overestimation"
    short_pages: bool = False  # "some pages may hold fewer than `limit` items": every page lacks one
    provisional_days: int = 3
    inflight_429: bool = True
    serialize_per_account: bool = True
    processing_rate: float = 0.0  # fraction of /data answered 503 PROCESSING
    revoke_tokens_every: int = 0  # revoke every token after each N authorised requests (0 = never)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ------------------------------------------------------------------------------------------------
# The world: catalogues and daily analytics
# ------------------------------------------------------------------------------------------------


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


@dataclasses.dataclass
class Catalog:
    """One account's videos: CMS objects plus numpy columns used by the analytics generator."""

    index: int
    account_id: str
    videos: list[dict[str, Any]]
    offset: int  # position of this account's first video in the world's global arrays
    created_day: np.ndarray
    viewable: np.ndarray
    by_id: dict[str, int]
    by_ref: dict[str, int]


class BrightcoveWorld:
    """Deterministic simulated accounts, videos and daily analytics."""

    def __init__(
        self,
        accounts: dict[str, str] | None = None,
        videos_per_account: int | dict | None = None,
        history_start: date = date(2022, 1, 1),
        today: date | None = None,
        seed: int = 7,
        scale: str = "demo",
    ) -> None:
        self.accounts = dict(accounts or DEFAULT_ACCOUNTS)
        self.today = today or datetime.now(UTC).date()
        self.history_start = min(history_start, self.today)
        self.seed, self.scale = seed, scale
        self._cache: dict[tuple[int, int], dict[str, np.ndarray]] = {}
        self._lock = threading.Lock()
        self._build(videos_per_account)

    # -- catalogue ---------------------------------------------------------------------------------
    def _count_for(self, rng: np.random.Generator, channel: str, account: str, spec: Any) -> int:
        if isinstance(spec, int):
            return spec
        if isinstance(spec, dict) and (channel in spec or account in spec):
            return int(spec.get(channel, spec.get(account)))
        return int(rng.integers(*SCALE_VIDEOS[self.scale]))

    def _build(self, spec: Any) -> None:
        self.catalogs: dict[str, Catalog] = {}
        ids_seen: set[str] = set()
        columns: dict[str, list[np.ndarray]] = defaultdict(list)
        offset = 0
        for index, (channel, account) in enumerate(self.accounts.items()):
            rng = np.random.default_rng([self.seed, index, 1])
            n = self._count_for(rng, channel, account, spec)
            cat, cols = self._make_catalog(rng, index, account, n, offset, ids_seen)
            self.catalogs[account] = cat
            for key, value in cols.items():
                columns[key].append(value)
            offset += n
        glob = {k: np.concatenate(v) if v else np.zeros(0) for k, v in columns.items()}
        self.pop, self.quality, self.play = glob["pop"], glob["quality"], glob["play"]
        self.dev_p, self.duration_s = glob["dev_p"].reshape(-1, len(DEVICES)), glob["duration_s"]
        self.ids = np.array([v["id"] for c in self.catalogs.values() for v in c.videos], dtype=object)
        self.names = np.array([v["name"] for c in self.catalogs.values() for v in c.videos], dtype=object)
        self.id_rank = _rank(self.ids)
        self.name_rank = _rank(self.names)

    def _make_catalog(
        self, rng: np.random.Generator, index: int, account: str, n: int, offset: int, ids_seen: set[str]
    ) -> tuple[Catalog, dict[str, np.ndarray]]:
        span = (self.today - self.history_start).days + 1
        created_day = np.sort(rng.integers(0, span, n)) + self.history_start.toordinal()
        states = rng.choice(["ACTIVE", "INACTIVE", "PENDING"], size=n, p=[0.88, 0.08, 0.04])
        duration_s = np.round(rng.lognormal(math.log(240), 0.9, n).clip(8, 7200), 3)
        videos = [
            self._make_video(
                rng, account, int(created_day[i]), str(states[i]), float(duration_s[i]), ids_seen
            )
            for i in range(n)
        ]
        viewable = states != "PENDING"
        pop = rng.lognormal(math.log(1.2), 1.6, n) * np.where(states == "INACTIVE", 0.1, 1.0) * viewable
        base_dev = rng.dirichlet([40, 35, 5, 12, 8])
        cols = {
            "pop": pop,
            "quality": rng.beta(5, 3, n),
            "play": rng.uniform(0.15, 0.85, n),
            "dev_p": rng.dirichlet(base_dev * 30, n).ravel(),
            "duration_s": duration_s,
        }
        cat = Catalog(
            index=index,
            account_id=account,
            videos=videos,
            offset=offset,
            created_day=created_day,
            viewable=viewable,
            by_id={v["id"]: i for i, v in enumerate(videos)},
            by_ref={v["reference_id"]: i for i, v in enumerate(videos) if v["reference_id"]},
        )
        return cat, cols

    def _make_video(
        self,
        rng: np.random.Generator,
        account: str,
        day: int,
        state: str,
        duration_s: float,
        ids_seen: set[str],
    ) -> dict[str, Any]:
        created = datetime.combine(date.fromordinal(day), dtime(), UTC) + timedelta(
            seconds=int(rng.integers(6 * 3600, 20 * 3600)), milliseconds=int(rng.integers(0, 1000))
        )
        end_of_today = datetime.combine(self.today, dtime(23, 59, 59), UTC)
        updated = created + (end_of_today - created) * float(
            rng.random() ** 4
        )  # most edits soon after upload
        published = None if state == "PENDING" or rng.random() < 0.05 else created + timedelta(minutes=7)
        vid = self._new_id(rng, day, ids_seen)
        name = f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)} {date.fromordinal(day):%b %Y}"
        return {
            "id": vid,
            "account_id": account,
            "name": name,
            "description": None if rng.random() < 0.3 else f"{name}: recorded session.",
            "long_description": None,
            "reference_id": None if rng.random() < 0.35 else f"REF-{vid[-8:]}",
            "state": state,
            "complete": state != "PENDING",
            "created_at": _iso(created),
            "updated_at": _iso(updated),
            "published_at": _iso(published) if published else None,
            "schedule": None,
            "duration": int(duration_s * 1000),
            "tags": sorted({str(t) for t in rng.choice(_TAGS, size=int(rng.integers(0, 4)), replace=False)}),
            "custom_fields": self._custom_fields(rng, duration_s),
            "original_filename": None if rng.random() < 0.1 else f"{name.lower().replace(' ', '_')}.mp4",
            "created_by": self._created_by(rng),
            "updated_by": self._created_by(rng),
            "economics": "AD_SUPPORTED" if rng.random() < 0.2 else "FREE",
            "delivery_type": "dynamic_origin" if rng.random() < 0.9 else "static_origin",
            "has_digital_master": bool(rng.random() < 0.8),
            "folder_id": None,
            "images": _images(account, vid),
        }

    def _new_id(self, rng: np.random.Generator, day: int, ids_seen: set[str]) -> str:
        long_ids = day >= date(2024, 6, 1).toordinal() and rng.random() < 0.3
        while True:
            vid = str(rng.integers(10**18, 9 * 10**18) if long_ids else rng.integers(6 * 10**12, 64 * 10**11))
            if vid not in ids_seen:
                ids_seen.add(vid)
                return vid

    @staticmethod
    def _custom_fields(rng: np.random.Generator, duration_s: float) -> dict[str, str]:
        if rng.random() < 0.1:
            return {}
        length = "Short (<2 min)" if duration_s < 120 else "Medium (2-10 min)" if duration_s < 600 else "Long"
        out = {key: str(rng.choice(vals)) for key, vals in _CUSTOM.items() if rng.random() < 0.85}
        if rng.random() < 0.85:
            out["video_length"] = length
        return out

    @staticmethod
    def _created_by(rng: np.random.Generator) -> dict[str, Any]:
        roll = rng.random()
        if roll < 0.7:
            email = f"{rng.choice(_EMAILS)}@example.com"
            return {"type": "user", "id": str(rng.integers(10**11, 10**12)), "email": email}
        return {"type": "api_key"} if roll < 0.9 else {"type": "unknown"}

    # -- analytics ---------------------------------------------------------------------------------
    def day_block(self, cat: Catalog, day: int) -> dict[str, np.ndarray]:
        """Final (reconciled) rows for one account and day, in additive form, cached."""
        key = (cat.index, day)
        with self._lock:
            block = self._cache.get(key)
        if block is None:
            block = self._generate(cat, day)
            with self._lock:
                self._cache[key] = block
        return block

    def _generate(self, cat: Catalog, day: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, cat.index, day, 2])
        alive = np.nonzero((cat.created_day <= day) & cat.viewable)[0]
        age = day - cat.created_day[alive]
        gidx = alive + cat.offset
        lam = self.pop[gidx] * (0.1 + 2.5 * np.exp(-age / 14.0)) * WEEKLY[date.fromordinal(day).weekday()]
        views = rng.poisson(lam)
        keep = views > 0
        gidx, views = gidx[keep], views[keep].astype(np.int64)
        n = len(views)
        dev = rng.multinomial(views, self.dev_p[gidx]).astype(np.int64)
        impr = views + rng.poisson(views * (1 / self.play[gidx] - 1))
        q = np.clip(self.quality[gidx] + rng.normal(0, 0.05, n), 0.05, 0.98)
        e1 = 100 - rng.exponential(2.0, n).clip(0, 20)
        eng = np.stack([e1 * q ** (p / 100) for p in ENGAGEMENT_POINTS], axis=1)
        avg_pct = eng.mean(axis=1) * rng.uniform(0.95, 1.05, n)
        pct = views * avg_pct
        score = np.clip(avg_pct * 0.9 + rng.normal(0, 4, n), 0, 100).round(2)
        return {
            "vid": gidx,
            "day": np.full(n, day, dtype=np.int64),
            "views": views,
            "dev": dev,
            "impr": impr,
            "pct": pct,
            "secs": pct / 100 * self.duration_s[gidx],
            "we": eng * views[:, None],
            "ws": score * views,
        }

    def provisional(
        self, block: dict[str, np.ndarray], age: int, calls: int, account_index: int = 0
    ) -> dict[str, np.ndarray]:
        """Recent days are incomplete: each query sees a random, on average growing, share of the data."""
        base = [0.55, 0.8, 0.9, 0.95][min(age, 3)]
        f = min(0.97, 1 - (1 - base) * 0.8**calls)  # never complete, so re-queries keep seeing changes
        rng = np.random.default_rng([self.seed, account_index, age, calls, 3])
        dev = rng.binomial(block["dev"], f).astype(np.int64)
        views = dev.sum(axis=1)
        keep = views > 0
        ratio = views[keep] / block["views"][keep]
        out = {k: v[keep] for k, v in block.items()}
        out.update(dev=dev[keep], views=views[keep], impr=np.maximum(views[keep], np.floor(out["impr"] * f)))
        for key in ("pct", "secs", "ws"):
            out[key] = out[key] * ratio
        out["we"] = out["we"] * ratio[:, None]
        out["impr"] = out["impr"].astype(np.int64)
        return out


def _rank(values: np.ndarray) -> np.ndarray:
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse = np.unique(values.astype(str), return_inverse=True)
    return inverse.astype(np.int64)


def _images(account: str, vid: str) -> dict[str, Any]:
    def image(kind: str, w: int, h: int) -> dict[str, Any]:
        src = f"https://cf-images.us-east-1.prod.boltdns.net/v1/static/{account}/{vid}/{kind}/{w}x{h}/match/image.jpg"
        return {"src": src, "sources": [{"src": src, "height": h, "width": w}]}

    return {"poster": image("poster", 1280, 720), "thumbnail": image("thumbnail", 160, 90)}


# ------------------------------------------------------------------------------------------------
# CMS search (v1 `q=`)
# ------------------------------------------------------------------------------------------------

_DATE_FIELDS = ("created_at", "updated_at", "published_at")
_REL = re.compile(r"^-?(\d+)\s*(d|day|days|h|hour|hours|m|min|mins|minutes)$", re.IGNORECASE)


def _parse_when(text: str, now: datetime, end: bool) -> datetime:
    text = text.strip()
    if text.upper() == "NOW":
        return now
    match = _REL.match(text)
    if match:
        unit = match.group(2).lower()[0]
        delta = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}[unit]
        return now - int(match.group(1)) * delta
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = date.fromisoformat(text)
        return datetime.combine(day, dtime(23, 59, 59, 999000) if end else dtime(), UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date_term(field: str, value: str, now: datetime):
    lo_text, sep, hi_text = value.partition("..")
    if not sep:
        hi_text = lo_text
    try:
        lo = _parse_when(lo_text, now, end=False) if lo_text else None
        hi = _parse_when(hi_text, now, end=True) if hi_text else None
    except ValueError as exc:
        raise ApiError(400, "INVALID_SEARCH", f"Invalid date range for {field}: {value}") from exc

    def match(video: dict[str, Any]) -> bool:
        raw = video.get(field)
        if raw is None:
            return False
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return (lo is None or ts >= lo) and (hi is None or ts <= hi)

    return match


def _term(token: str, now: datetime):
    field, sep, value = token.partition(":")
    if not sep:
        text = token.lower()
        return lambda v: (
            text in v["name"].lower()
            or text in (v["description"] or "").lower()
            or any(text in t for t in v["tags"])
        )
    field, value = field.lower(), value.strip('"')
    if field in _DATE_FIELDS:
        return _date_term(field, value, now)
    simple = {
        "state": lambda v: v["state"] == value.upper(),
        "name": lambda v: value.lower() in v["name"].lower(),
        "text": lambda v: value.lower() in (v["name"] + " " + (v["description"] or "")).lower(),
        "tags": lambda v: bool({t.strip().lower() for t in value.split(",")} & set(v["tags"])),
        "reference_id": lambda v: v["reference_id"] == value,
        "id": lambda v: v["id"] in value.split(","),
        "complete": lambda v: str(v["complete"]).lower() == value.lower(),
    }
    if field in simple:
        return simple[field]
    if field in _CUSTOM or field == "video_length":
        return lambda v: v["custom_fields"].get(field) == value
    raise ApiError(400, "INVALID_SEARCH", f"Unsupported search field: {field}")


def compile_search(q: str, now: datetime):
    """v1 search semantics: `+` required, `-` excluded, bare terms OR-ed (at least one must match)."""
    required, excluded, optional = [], [], []
    for token in q.split():
        target = required if token.startswith("+") else excluded if token.startswith("-") else optional
        token = token[1:] if token[0] in "+-" else token
        if not token:
            raise ApiError(400, "INVALID_SEARCH", f"Invalid search: {q}")
        target.append(_term(token, now))

    def match(video: dict[str, Any]) -> bool:
        return (
            all(t(video) for t in required)
            and not any(t(video) for t in excluded)
            and (not optional or any(t(video) for t in optional))
        )

    return match


# ------------------------------------------------------------------------------------------------
# Analytics query
# ------------------------------------------------------------------------------------------------

_DIMENSIONS = {("video", "date"), ("video", "date", "device_type"), ("video",), ("date",)}
_METRICS = (
    "video_view",
    "video_impression",
    "play_rate",
    "engagement_score",
    *(f"video_engagement_{p}" for p in ENGAGEMENT_POINTS),
    "video_percent_viewed",
    "video_seconds_viewed",
)
_VIDEO_META = ("video.name", "video_name", "video_duration")
_ALL_FIELDS = ("video", "date", "device_type", *_METRICS, *_VIDEO_META)


@dataclasses.dataclass
class AnalyticsQuery:
    catalogs: list[Catalog]
    dims: tuple[str, ...]
    fields: list[str]
    where: dict[str, set[str]]
    first: int
    last: int
    limit: int
    offset: int
    sort: str
    descending: bool


def _parse_day(text: str, today: date) -> date:
    text = text.strip()
    if text.lower() == "now":
        return today
    match = re.fullmatch(r"(-?)(\d+)([dh])", text)
    if match:
        days = int(match.group(2)) if match.group(3) == "d" else int(match.group(2)) // 24
        return today - timedelta(days=days)
    if text.isdigit() and len(text) >= 10:
        return datetime.fromtimestamp(int(text) / 1000, UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ApiError(400, "BAD_REQUEST", f"Invalid date value: {text}") from exc


def _int_param(params: Any, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, "BAD_REQUEST", f"Invalid value for {name}: {raw}") from exc
    if value < 0:
        raise ApiError(400, "BAD_REQUEST", f"Invalid value for {name}: {raw}")
    return value


def _split(raw: str | None) -> list[str]:
    return [p.strip() for p in (raw or "").split(",") if p.strip()]


def parse_analytics(params: Any, world: BrightcoveWorld) -> AnalyticsQuery:
    accounts = _split(params.get("accounts") or params.get("account"))
    if not accounts:
        raise ApiError(400, "BAD_REQUEST", "The accounts parameter is required")
    unknown = [a for a in accounts if a not in world.catalogs]
    if unknown:
        raise ApiError(401, "UNAUTHORIZED", f"Permission denied for account {unknown[0]}")
    dims = tuple(_split(params.get("dimensions")))
    if not dims:
        raise ApiError(400, "BAD_REQUEST", "The dimensions parameter is required")
    if dims not in _DIMENSIONS:
        raise ApiError(
            400, "UNSUPPORTED_FIELD_COMBINATION_ERROR", f"Unsupported dimensions: {','.join(dims)}"
        )
    fields = _parse_fields(params.get("fields"), dims)
    to = _parse_day(params.get("to") or "now", world.today)
    frm = _parse_day(params["from"], world.today) if params.get("from") else to - timedelta(days=32)
    if frm > to:
        raise ApiError(400, "BAD_REQUEST", "from must not be after to")
    sort = params.get("sort") or "video_view"
    descending, sort_field = sort.startswith("-"), sort.lstrip("-")
    if sort_field not in fields and not ("video" in dims and sort_field == "video.name"):
        raise ApiError(400, "BAD_REQUEST", f"Invalid sort field: {sort}")
    raw_limit = params.get("limit") or "10"
    limit = 1_000_000 if raw_limit == "all" else min(_int_param(params, "limit", 10), 1_000_000)
    if limit < 1:
        raise ApiError(400, "BAD_REQUEST", f"Invalid value for limit: {raw_limit}")
    return AnalyticsQuery(
        catalogs=[world.catalogs[a] for a in accounts],
        dims=dims,
        fields=fields,
        where=_parse_where(params.get("where"), dims),
        first=frm.toordinal(),
        last=to.toordinal(),
        limit=limit,
        offset=_int_param(params, "offset", 0),
        sort=sort_field,
        descending=descending,
    )


def _parse_fields(raw: str | None, dims: tuple[str, ...]) -> list[str]:
    if raw == "all":
        return [*dims, *_METRICS, *(_VIDEO_META if "video" in dims else ())]
    fields = _split(raw) or [*dims, "video_view"]
    for field in fields:
        if field not in _ALL_FIELDS:
            raise ApiError(400, "BAD_REQUEST", f"Invalid field: {field}")
        if field in ("video", "date", "device_type") and field not in dims:
            raise ApiError(400, "BAD_REQUEST", f"Field {field} requires the {field} dimension")
    return list(dict.fromkeys(fields))


def _parse_where(raw: str | None, dims: tuple[str, ...]) -> dict[str, set[str]]:
    where: dict[str, set[str]] = {}
    for clause in filter(None, (raw or "").split(";")):
        dim, sep, values = clause.partition("==")
        if not sep or dim not in ("video", "device_type"):
            raise ApiError(400, "BAD_REQUEST", f"Invalid where clause: {clause}")
        if dim not in dims:
            raise ApiError(400, "BAD_REQUEST", f"Cannot filter on {dim} without the {dim} dimension")
        where[dim] = set(_split(values))
    return where


# ------------------------------------------------------------------------------------------------
# The simulator (HTTP)
# ------------------------------------------------------------------------------------------------


class BrightcoveSimulator(BaseSimulator):
    """Serves `/oauth/v4`, `/cms/v1` and `/analytics/v1` from one `BrightcoveWorld`."""

    name = "brightcove"

    def __init__(
        self,
        world: BrightcoveWorld | None = None,
        client_id: str = SANDBOX_CLIENT_ID,
        client_secret: str = SANDBOX_CLIENT_SECRET,
    ) -> None:
        self.world = world or BrightcoveWorld()
        self.client_id, self.client_secret = client_id, client_secret
        self._tokens: dict[str, float] = {}
        self._token_lock = threading.Lock()
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._concurrent: dict[str, int] = defaultdict(int)
        self._inflight: set[str] = set()
        self._authorised = 0
        self._account_locks: dict[str, asyncio.Lock] = {}
        self._calls: dict[str, int] = defaultdict(int)
        self._requests = 0
        self._count_lock = threading.Lock()
        super().__init__(seed=self.world.seed)
        self.knobs = BrightcoveKnobs()

    def env(self, base_url: str) -> dict[str, str]:
        return {
            "BRIGHTCOVE_OAUTH_URL": f"{base_url}/oauth/v4",
            "BRIGHTCOVE_CMS_URL": f"{base_url}/cms/v1",
            "BRIGHTCOVE_ANALYTICS_URL": f"{base_url}/analytics/v1",
            "BRIGHTCOVE_CLIENT_ID": self.client_id,
            "BRIGHTCOVE_CLIENT_SECRET": self.client_secret,
            "BRIGHTCOVE_ACCOUNTS": json.dumps(self.world.accounts),
        }

    def routes(self) -> list[Route]:
        def api(endpoint: str, handler, gate=None):
            async def endpoint_fn(request: Request) -> Response:
                return await self.serve(request, endpoint, self._guard(endpoint, handler), gate)

            return endpoint_fn

        return [
            Route("/oauth/v4/access_token", self._token, methods=["POST"]),
            Route("/cms/v1/accounts/{account_id}/videos", api("cms.videos", self._videos, self._cms_gate)),
            Route(
                "/cms/v1/accounts/{account_id}/counts/videos", api("cms.counts", self._counts, self._cms_gate)
            ),
            Route(
                "/cms/v1/accounts/{account_id}/videos/{ids}",
                api("cms.video_ids", self._by_ids, self._cms_gate),
            ),
            Route("/analytics/v1/data", api("analytics.data", self._data, self._analytics_gate)),
            Route("/analytics/v1/data/status", api("analytics.status", self._status)),
        ]

    def admin_routes(self) -> list[Route]:
        return [*super().admin_routes(), Route("/_sandbox/expire_tokens", self._expire, methods=["POST"])]

    # -- errors ------------------------------------------------------------------------------------
    def error(self, endpoint: str, status: int, code: str, message: str) -> Response:
        body: dict[str, Any] = {"error_code": code, "message": message}
        if endpoint.startswith("analytics"):
            body["request_id"] = str(uuid.uuid4())
        return JSONResponse([body], status_code=status)

    def fault_response(self, endpoint: str, status: int) -> Response:
        if status == 429:
            return self.error(endpoint, 429, "TOO_MANY_REQUESTS", "Too many requests")
        code = "SERVER_ERROR" if endpoint.startswith("analytics") else "UNKNOWN"
        return self.error(endpoint, status, code, "An unexpected error occurred")

    def _guard(self, endpoint: str, handler):
        def run(request: Request) -> Response:
            try:
                return handler(request)
            except ApiError as exc:
                return self.error(endpoint, exc.status, exc.code, exc.message)

        return run

    # -- OAuth -------------------------------------------------------------------------------------
    async def _token(self, request: Request) -> Response:
        # Parsed by hand: Starlette's form parser needs python-multipart, which is not a dependency.
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        return await self.serve(
            request,
            "oauth.token",
            lambda r: self._issue(r, form),
            faults=self.faults.faults_on_token,
            auth=False,
        )

    def _issue(self, request: Request, form: Any) -> Response:
        grant = form.get("grant_type") or request.query_params.get("grant_type")
        if grant != "client_credentials":
            return JSONResponse(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant_type must be client_credentials",
                },
                status_code=400,
            )
        if self._credentials(request, form) != (self.client_id, self.client_secret):
            body = self.knobs.oauth_error_body or {
                "error": "invalid_client",
                "error_description": "The client credentials are invalid",
            }
            return JSONResponse(body, status_code=self.knobs.oauth_error_status)
        ttl = float(self.faults.token_ttl)
        token = secrets.token_urlsafe(48)
        with self._token_lock:
            self._tokens[token] = self.monotonic() + ttl
        self.stats.add("tokens_issued")
        expires_in: float = int(ttl) if ttl.is_integer() else ttl
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": expires_in})

    @staticmethod
    def _credentials(request: Request, form: Any) -> tuple[str, str]:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                return user, password
            except (ValueError, UnicodeDecodeError):
                return "", ""
        return str(form.get("client_id", "")), str(form.get("client_secret", ""))

    def check_auth(self, request: Request, endpoint: str) -> Response | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        with self._token_lock:
            expiry = self._tokens.get(token)
        if expiry is None or expiry <= self.monotonic():
            return self.error(endpoint, 401, "UNAUTHORIZED", "Permission denied.")
        self._revoke_on_schedule()
        return None

    def _revoke_on_schedule(self) -> None:
        """`revoke_tokens_every`: tokens die after a count of requests, not of seconds, so a test of
        mid-run expiry hits it however slowly the machine runs."""
        every = self.knobs.revoke_tokens_every
        if every:
            with self._token_lock:
                self._authorised += 1
                if self._authorised % every == 0:
                    self._tokens = dict.fromkeys(self._tokens, 0.0)

    async def _expire(self, request: Request) -> Response:
        with self._token_lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)
            count = len(self._tokens)
        return JSONResponse({"expired": count})

    # -- gates (vendor rate limits) ------------------------------------------------------------------
    async def _cms_gate(self, request: Request, call) -> Response:
        """Per account: at most `max_rps` accepted requests per rolling second, `max_concurrent` at once."""
        account, knobs = request.path_params["account_id"], self.knobs
        if knobs.rate_limit_enabled:
            now, recent = self.monotonic(), self._recent[account]
            while recent and recent[0] <= now - 1.0:
                recent.popleft()
            if len(recent) >= knobs.max_rps or self._concurrent[account] >= knobs.max_concurrent:
                response = self.error("cms", 429, "TOO_MANY_REQUESTS", "Too many requests")
                if knobs.rate_limit_retry_after:
                    response.headers["Retry-After"] = knobs.rate_limit_retry_after
                return response
            recent.append(now)
        self._concurrent[account] += 1
        try:
            return await call()
        finally:
            self._concurrent[account] -= 1

    async def _analytics_gate(self, request: Request, call) -> Response:
        key = "&".join(sorted(f"{k}={v}" for k, v in request.query_params.multi_items()))
        if self.knobs.inflight_429 and key in self._inflight:
            return self.error(
                "analytics", 429, "TOO_MANY_REQUESTS", "Too many concurrent requests for same query"
            )
        self._inflight.add(key)
        try:
            if not self.knobs.serialize_per_account:
                return await call()
            accounts = sorted(set(_split(request.query_params.get("accounts"))))
            return await self._locked(accounts, call)
        finally:
            self._inflight.discard(key)

    async def _locked(self, accounts: list[str], call) -> Response:
        """One request per account is processed at a time; later ones queue, as the docs describe."""
        if not accounts:
            return await call()
        lock = self._account_locks.setdefault(accounts[0], asyncio.Lock())
        async with lock:
            return await self._locked(accounts[1:], call)

    # -- CMS ---------------------------------------------------------------------------------------
    def _catalog(self, request: Request) -> Catalog:
        account = request.path_params["account_id"]
        if account not in self.world.catalogs:
            raise ApiError(404, "RESOURCE_NOT_FOUND", f"Account {account} not found")
        return self.world.catalogs[account]

    def _now(self) -> datetime:
        return datetime.combine(self.world.today, datetime.now(UTC).time(), UTC)

    def _search(self, request: Request) -> list[dict[str, Any]]:
        videos = self._catalog(request).videos
        q = request.query_params.get("q")
        if not q:
            return list(videos)
        match = compile_search(q, self._now())
        return [v for v in videos if match(v)]

    def _videos(self, request: Request) -> Response:
        params = request.query_params
        matches = self._search(request)
        limit = _int_param(params, "limit", 20)
        if not 1 <= limit <= 100:
            raise ApiError(400, "BAD_VALUE", f"limit must be between 1 and 100, got {limit}")
        offset = _int_param(params, "offset", 0)
        ordered = _cms_sort(matches, params.get("sort") or "-updated_at")
        page = ordered[offset : offset + limit]
        if self.knobs.short_pages:  # short pages mid-listing; the next page still starts at offset + limit
            page = [video for position, video in enumerate(page) if position != 3]
        return JSONResponse(page)

    def _counts(self, request: Request) -> Response:
        return JSONResponse({"count": len(self._search(request)) + self.knobs.count_overestimate})

    def _by_ids(self, request: Request) -> Response:
        cat = self._catalog(request)
        ids = _split(request.path_params["ids"])
        if len(ids) > 10:
            raise ApiError(400, "ILLEGAL_PATH", "At most 10 video ids may be requested at once")
        found = [
            cat.videos[i]
            for i in (cat.by_ref.get(x[4:]) if x.startswith("ref:") else cat.by_id.get(x) for x in ids)
            if i is not None
        ]
        if not found:
            raise ApiError(404, "RESOURCE_NOT_FOUND", "The requested video(s) were not found")
        return JSONResponse(found[0] if len(ids) == 1 else found)

    # -- Analytics ---------------------------------------------------------------------------------
    def _status(self, request: Request) -> Response:
        last = self.world.today - timedelta(days=self.knobs.provisional_days)
        return JSONResponse(
            {
                "reconciled_from": self.world.history_start.isoformat(),
                "reconciled_to": max(last, self.world.history_start).isoformat(),
            }
        )

    def _data(self, request: Request) -> Response:
        query = parse_analytics(request.query_params, self.world)
        with self._count_lock:
            self._requests += 1
            request_no = self._requests
            tie_seed = [self.world.seed, request_no]
            if (
                self.knobs.processing_rate
                and np.random.default_rng(tie_seed).random() < self.knobs.processing_rate
            ):
                raise ApiError(503, "PROCESSING", "The report is being processed; retry in a few minutes")
        rows = self._collect(query, request.query_params.get("reconciled"))
        return _report(self.world, query, rows, np.random.default_rng(tie_seed))

    def _collect(self, query: AnalyticsQuery, reconciled: str | None) -> dict[str, np.ndarray]:
        world, prov = self.world, self.knobs.provisional_days
        today = world.today.toordinal()
        first = max(query.first, world.history_start.toordinal(), today - 31 if reconciled == "false" else 0)
        last = min(query.last, today, today - prov if reconciled == "true" else today)
        parts = []
        for cat in query.catalogs:
            calls = self._provisional_calls(cat, first, last, today - prov)
            for day in range(first, last + 1):
                block = world.day_block(cat, day)
                if today - day < prov:
                    block = world.provisional(block, today - day, calls, cat.index)
                parts.append(block)
        rows = _concat(parts)
        if "video" in query.where:
            wanted = [
                cat.offset + cat.by_id[v]
                for cat in query.catalogs
                for v in query.where["video"]
                if v in cat.by_id
            ]
            rows = {k: v[np.isin(rows["vid"], wanted)] for k, v in rows.items()}
        return rows

    def _provisional_calls(self, cat: Catalog, first: int, last: int, provisional_from: int) -> int:
        if last <= provisional_from:
            return 0
        with self._count_lock:
            calls = self._calls[cat.account_id]
            self._calls[cat.account_id] += 1
        return calls


_ADDITIVE = ("vid", "day", "views", "dev", "impr", "pct", "secs", "we", "ws")


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        empty = {k: np.zeros(0, dtype=np.int64) for k in _ADDITIVE}
        empty["dev"] = np.zeros((0, len(DEVICES)), dtype=np.int64)
        empty["we"] = np.zeros((0, len(ENGAGEMENT_POINTS)))
        return empty
    return {k: np.concatenate([p[k] for p in parts]) for k in _ADDITIVE}


def _by_device(rows: dict[str, np.ndarray], wanted: set[str] | None) -> dict[str, np.ndarray]:
    r, k = np.nonzero(rows["dev"])
    views = rows["dev"][r, k]
    share = views / rows["views"][r]
    out = {
        "vid": rows["vid"][r],
        "day": rows["day"][r],
        "views": views,
        "device": k,
        "impr": np.maximum(views, np.floor(rows["impr"][r] * share)).astype(np.int64),
        "pct": rows["pct"][r] * share,
        "secs": rows["secs"][r] * share,
        "we": rows["we"][r] * share[:, None],
        "ws": rows["ws"][r] * share,
    }
    if wanted is not None:
        keep = np.isin(out["device"], [DEVICES.index(d) for d in wanted if d in DEVICES])
        out = {key: value[keep] for key, value in out.items()}
    return out


def _group(rows: dict[str, np.ndarray], key: str) -> dict[str, np.ndarray]:
    uniq, inverse = np.unique(rows[key], return_inverse=True)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(inverse, weights=values, minlength=len(uniq))

    out = {
        key: uniq,
        "views": total(rows["views"]).astype(np.int64),
        "impr": total(rows["impr"]).astype(np.int64),
        "pct": total(rows["pct"]),
        "secs": total(rows["secs"]),
        "ws": total(rows["ws"]),
    }
    out["we"] = (
        np.stack([total(rows["we"][:, i]) for i in range(len(ENGAGEMENT_POINTS))], axis=1)
        if len(uniq)
        else np.zeros((0, len(ENGAGEMENT_POINTS)))
    )
    return out


def _shape(query: AnalyticsQuery, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if "device_type" in query.dims:
        return _by_device(rows, query.where.get("device_type"))
    if query.dims == ("video",):
        return _group(rows, "vid")
    if query.dims == ("date",):
        return _group(rows, "day")
    return rows


def _column(world: BrightcoveWorld, rows: dict[str, np.ndarray], field: str, for_sort: bool) -> np.ndarray:
    """Values of one output field; with `for_sort`, a numeric array whose order is the field's order."""
    views = np.maximum(rows["views"], 1)
    vid = rows.get("vid")
    if field.startswith("video_engagement_"):
        return np.round(rows["we"][:, ENGAGEMENT_POINTS.index(int(field.rsplit("_", 1)[1]))] / views, 6)
    simple = {
        "video_view": lambda: rows["views"],
        "video_impression": lambda: rows["impr"],
        "play_rate": lambda: np.round(rows["views"] / np.maximum(rows["impr"], 1), 6),
        "engagement_score": lambda: np.round(rows["ws"] / views, 2),
        "video_percent_viewed": lambda: np.round(rows["pct"], 4),
        "video_seconds_viewed": lambda: np.round(rows["secs"], 3),
        "date": lambda: rows["day"],
        "device_type": lambda: rows["device"],
    }
    if field in simple:
        return simple[field]()
    if vid is None:  # video fields without the video dimension: the docs call these values junk
        return np.zeros(len(views)) if for_sort else np.full(len(views), None, dtype=object)
    if for_sort:
        return {
            "video": world.id_rank,
            "video.name": world.name_rank,
            "video_name": world.name_rank,
            "video_duration": world.duration_s,
        }[field][vid]
    if field == "video":
        return world.ids[vid]
    if field == "video_duration":
        return np.array([f"{d:g}" for d in world.duration_s[vid]], dtype=object)
    return world.names[vid]


def _render(world: BrightcoveWorld, rows: dict[str, np.ndarray], field: str) -> list[Any]:
    values = _column(world, rows, field, for_sort=False)
    if field == "date":
        return [date.fromordinal(d).isoformat() for d in values.tolist()]
    if field == "device_type":
        return [DEVICES[d] for d in values.tolist()]
    return values.tolist()


def _summary(rows: dict[str, np.ndarray], fields: list[str]) -> dict[str, Any]:
    totals = {
        "vid": np.zeros(1, dtype=np.int64),
        "views": np.array([rows["views"].sum()]),
        "impr": np.array([rows["impr"].sum()]),
        "pct": np.array([rows["pct"].sum()]),
        "secs": np.array([rows["secs"].sum()]),
        "ws": np.array([rows["ws"].sum()]),
        "we": rows["we"].sum(axis=0, keepdims=True),
    }
    empty = int(totals["views"][0]) == 0
    out: dict[str, Any] = {}
    for field in fields:
        if field in _METRICS:
            value = _column(None, totals, field, for_sort=False).tolist()[0]  # type: ignore[arg-type]
            out[field] = None if empty and field not in ("video_view", "video_impression") else value
    return out


def _report(
    world: BrightcoveWorld, query: AnalyticsQuery, rows: dict[str, np.ndarray], rng: np.random.Generator
) -> Response:
    rows = _shape(query, rows)
    total = len(rows["views"])
    key = _column(world, rows, query.sort, for_sort=True).astype(np.float64)
    # Ties are broken at random per request: naive offset paging over tied rows repeats or skips rows.
    order = np.lexsort((rng.random(total), -key if query.descending else key))
    page = order[query.offset : query.offset + query.limit]
    page_rows = {k: v[page] for k, v in rows.items()}
    columns = [_render(world, page_rows, f) for f in query.fields]
    items = [dict(zip(query.fields, values, strict=True)) for values in zip(*columns, strict=True)]
    body = {"item_count": total, "items": items, "summary": _summary(rows, query.fields)}
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


def _cms_sort(videos: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    field, descending = sort.lstrip("-"), sort.startswith("-")
    aliases = {"schedule_starts_at": "schedule.starts_at", "schedule_ends_at": "schedule.ends_at"}
    field = aliases.get(field, field)
    allowed = {
        "name",
        "reference_id",
        "created_at",
        "published_at",
        "updated_at",
        "state",
        "schedule.starts_at",
        "schedule.ends_at",
        "plays_total",
        "plays_trailing_week",
    }
    if field not in allowed:
        raise ApiError(400, "INVALID_SORT", f"Invalid sort field: {sort}")
    if field.startswith(("schedule.", "plays_")):
        field = "created_at"  # not modelled; any stable order will do

    def key(video: dict[str, Any]) -> tuple[bool, str, str]:
        value = video.get(field)
        return value is None, str(value or "").lower() if field == "name" else str(value or ""), video["id"]

    present = sorted((v for v in videos if v.get(field) is not None), key=key, reverse=descending)
    return present + [v for v in videos if v.get(field) is None]


def sandbox_simulator(sandbox) -> BrightcoveSimulator:
    """The sandbox's Brightcove: the runbook's accounts at the sandbox's scale, seed and today."""
    return BrightcoveSimulator(BrightcoveWorld(today=sandbox.today, scale=sandbox.scale, seed=sandbox.seed))
