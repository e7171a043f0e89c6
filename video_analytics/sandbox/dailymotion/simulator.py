"""A local twin of DailyMotion's partner reporting API (CONTRACTS.md §2): OAuth, GraphQL, CSV, REST.

The GraphQL endpoint is a real schema executed by graphql-core, so names are validated as the vendor
does (enums, required arguments, aliases) and errors come back as an `errors` array. Reports are
asynchronous on a *simulated* clock (`POST /_sandbox/clock {"advance": seconds}`): a report stays
IN_PROGRESS for `report_delay` simulated seconds, then is FINISHED (or FAILED when a
`fail_next_reports` fault hits it) and EXPIRED 48 h later. Things the contract marks NOT FOUND (third
concurrent report, CSV header style, hour format, max range) are knobs on `DailyMotionKnobs`.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import secrets
import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import polars as pl
from graphql import GraphQLError, build_schema, graphql_sync
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from video_analytics.sandbox.server import BaseSimulator

SANDBOX_CLIENT_ID = "sandbox-dailymotion-client"
SANDBOX_CLIENT_SECRET = "sandbox-dailymotion-secret"
SANDBOX_USERNAME = "sandbox-partner"
SANDBOX_PASSWORD = "sandbox-partner-password"
REPORT_RETENTION_SECONDS = 48 * 3600
MAX_LIST_IDS = 100  # the Data API's `limit` maximum: `GET /videos?ids=` takes at most this many
KNOWN_SCOPES = {
    "create_reports",
    "read_reports",
    "delete_reports",
    "manage_reports",
    "access_ads",
    "access_revenue",
}
#: Dimensions and metrics the sandbox can actually compute; the rest of the enum is refused clearly.
SIMULATED_DIMENSIONS = (
    "HOUR",
    "DAY",
    "VIDEO_ID",
    "MEDIA_TYPE",
    "VISITOR_PAGE_URL",
    "VISITOR_DEVICE_TYPE",
    "PLAYER_ID",
    "PLAYLIST_ID",
)
SIMULATED_METRICS = (
    "VIEWS",
    "TIME_WATCHED_SECONDS",
    "VIEW_THROUGH_RATE",
    "AVERAGE_WATCH_TIME_SEC",
    "ESTIMATED_EARNINGS_EUR",
)
#: Revenue metrics work with DAY or MONTH, not HOUR (CONTRACTS.md §2.2, compatibility matrix).
REVENUE_METRICS = ("ESTIMATED_EARNINGS_EUR",)
_METRIC_ENUM = [
    *SIMULATED_METRICS,
    "UPLOADS",
    "LIVE_VIEWERS",
    "LIVE_TIME_WATCHED_SECONDS",
    "ESTIMATED_EARNINGS_USD",
    "TOTAL_INVENTORY",
    "SELLABLE_INVENTORY",
    "NB_IMPRESSION",
    "FILL_RATE",
]
_DIMENSION_ENUM = [
    *SIMULATED_DIMENSIONS,
    "MONTH",
    "MINUTE",
    "ACCOUNT_ID",
    "VIDEO_TITLE",
    "VIDEO_OWNER_CHANNEL_SLUG",
    "PLAYLIST_TITLE",
    "PLAYER_TITLE",
    "VISITOR_COUNTRY",
    "VISITOR_DOMAIN_GROUP",
    "VISITOR_SUBDOMAIN",
    "CONTENT_TAG",
    "ACTION",
]
SCHEMA_SDL = f"""
enum PartnerReportMetric {{ {" ".join(_METRIC_ENUM)} }}
enum PartnerReportDimension {{ {" ".join(_DIMENSION_ENUM)} }}
enum PartnerReportProduct {{ CONTENT EMBED CLAIM ALL }}
enum PartnerReportStatus {{ IN_PROGRESS FINISHED FAILED EXPIRED }}
input PartnerReportFilters {{
  channelSlug: String videoOwnerChannelSlug: String visitorDomainGroup: String
  mediaType: String monetizationType: String
}}
input AskPartnerReportFileInput {{
  metrics: [PartnerReportMetric]! dimensions: [PartnerReportDimension]!
  startDate: String! endDate: String! filters: PartnerReportFilters
  product: PartnerReportProduct clientMutationId: String
}}
type PageInfo {{ hasNextPage: Boolean hasPreviousPage: Boolean nextPage: Int }}
type ReportFileDownloadLink {{ id: ID link: String }}
type ReportFileDownloadLinkEdge {{ node: ReportFileDownloadLink }}
type ReportFileDownloadLinkConnection {{
  edges: [ReportFileDownloadLinkEdge] pageInfo: PageInfo totalCount: Int
}}
type PartnerReportFile {{
  id: ID reportToken: String status: PartnerReportStatus createDate: String
  downloadLinks(first: Int, page: Int): ReportFileDownloadLinkConnection
}}
type AskPartnerReportFilePayload {{ reportFile: PartnerReportFile status: String clientMutationId: String }}
type PartnerSpace {{ reportFile(reportToken: String!): PartnerReportFile }}
type Query {{ partner: PartnerSpace }}
type Mutation {{ askPartnerReportFile(input: AskPartnerReportFileInput!): AskPartnerReportFilePayload }}
"""

DEVICES = ("desktop", "mobile", "tablet", "tv")
PAGE_URLS = (
    "https://www.example-news.com/video",
    "https://www.example-news.com/sport",
    "https://m.example-news.com/",
    "https://blog.example.org/posts",
    "https://www.partner-site.it/home",
    "https://www.partner-site.it/cronaca",
    "https://www.dailymotion.com/",
    None,  # the page is unknown for some views (the original filled these with -1)
)
SCALE_SIZES = {"test": (24, 4, 3), "demo": (300, 30, 5)}  # videos, playlists, players
_HOURLY = np.array([2, 1, 1, 1, 1, 2, 4, 6, 8, 8, 7, 7, 8, 7, 6, 6, 7, 8, 9, 10, 10, 8, 5, 3], dtype=float)
_TITLES_A = ["Morning", "Breaking", "Weekly", "Live", "Inside", "Top", "Exclusive", "Daily", "Match"]
_TITLES_B = ["Briefing", "Highlights", "Interview", "Report", "Recap", "Analysis", "Special", "Preview"]
_TAGS = ["news", "sport", "politics", "economy", "culture", "tech", "weather", "football", "music"]
_ID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"
#: Euros earned per 1000 views by device (ads pay more on big screens); times a per-video factor.
_DEVICE_RPM = {"desktop": 2.4, "mobile": 1.6, "tablet": 1.9, "tv": 3.1}


@dataclasses.dataclass
class DailyMotionKnobs:
    """Vendor behaviour the contract leaves open (NOT FOUND) plus report-life switches for tests."""

    report_delay: float = 5.0  # simulated seconds from asking to FINISHED (the vendor: up to 2 h)
    max_concurrent_reports: int = 2
    max_range_days: int = 30  # the seed's limit; the vendor docs say 180
    max_dimensions: int = 8
    fail_next_reports: int = 0  # the next N reports asked end FAILED
    header_style: str = "lower"  # "lower" | "upper"
    hour_format: str = "iso_z"  # "iso_z" (2024-03-01T05:00:00Z) | "space" (2024-03-01 05:00:00) | "space_tz"
    rows_per_file: int = 200_000  # a report with more rows is split over several CSV links
    strict_scopes: bool = False  # refuse scopes outside the documented list
    vtr_scale: float = 100.0  # VIEW_THROUGH_RATE as a percentage (100) or a fraction (1)
    truncate_downloads: int = 0  # the next N CSV downloads are cut off (`truncate_next` hits any call)


@dataclasses.dataclass
class Report:
    token: str
    account: str
    metrics: tuple[str, ...]
    dimensions: tuple[str, ...]
    start: date
    end: date
    created: float
    finish_at: float
    fails: bool
    files: int = 1

    def status(self, now: float) -> str:
        if now < self.finish_at:
            return "IN_PROGRESS"
        if self.fails:
            return "FAILED"
        return "EXPIRED" if now >= self.finish_at + REPORT_RETENTION_SECONDS else "FINISHED"


def _dm_id(rng: np.random.Generator, prefix: str, length: int) -> str:
    return prefix + "".join(_ID_CHARS[i] for i in rng.integers(0, len(_ID_CHARS), length))


class DailyMotionWorld:
    """Deterministic videos, playlists, players and hourly audience rows for one partner account."""

    def __init__(self, today: date | None = None, seed: int = 7, scale: str = "demo") -> None:
        self.today = today or datetime.now(UTC).date()
        self.seed, self.scale = seed, scale
        n_videos, n_playlists, n_players = SCALE_SIZES[scale]
        rng = np.random.default_rng([seed, 31])
        self.players = [
            {"id": _dm_id(rng, "x", 5), "label": f"{name} player"}
            for name in ("Web", "Mobile web", "Embed", "AMP", "Connected TV")[:n_players]
        ]
        self.playlists = [
            {"id": _dm_id(rng, "x", 6), "name": f"{rng.choice(_TITLES_A)} {rng.choice(_TITLES_B)} playlist"}
            for _ in range(n_playlists)
        ]
        first = self.today - timedelta(days=3 * 365)
        created_days = np.sort(rng.integers(first.toordinal(), self.today.toordinal() + 1, n_videos))
        self.videos: list[dict[str, Any]] = []
        for day in created_days:
            vid = _dm_id(rng, "x", 7)
            created = datetime.combine(date.fromordinal(int(day)), datetime.min.time(), UTC) + timedelta(
                seconds=int(rng.integers(6 * 3600, 22 * 3600))
            )
            title = f"{rng.choice(_TITLES_A)} {rng.choice(_TITLES_B)} {created:%d %b %Y}"
            self.videos.append(
                {
                    "id": vid,
                    "title": title,
                    "description": f"{title}: full video.",
                    "duration": int(np.clip(rng.lognormal(math.log(180), 0.8), 10, 5400)),
                    "created_time": int(created.timestamp()),
                    "tags": sorted(
                        {str(t) for t in rng.choice(_TAGS, int(rng.integers(0, 4)), replace=False)}
                    ),
                    "url": f"https://www.dailymotion.com/video/{vid}",
                }
            )
        self.created_day = created_days.astype(np.int64)
        self.pop = rng.lognormal(math.log(6), 1.3, n_videos)
        self.completion = rng.beta(4, 4, n_videos)
        self.live = rng.random(n_videos) < 0.05
        self.home_playlist = rng.integers(-1, max(n_playlists, 1), n_videos)
        # Its own stream, so adding earnings changed none of the audience figures above.
        self.monetized = np.random.default_rng([seed, 97]).lognormal(0.0, 0.5, n_videos)
        self.by_id = {"video": {v["id"]: v for v in self.videos}}
        self.by_id["playlist"] = {p["id"]: p for p in self.playlists}
        self.by_id["player"] = {p["id"]: p for p in self.players}
        self._cache: dict[int, pl.DataFrame] = {}
        self._lock = threading.Lock()

    def day_rows(self, day: date) -> pl.DataFrame:
        """Every hourly row of one UTC day (all dimensions, raw metrics), cached."""
        ordinal = day.toordinal()
        with self._lock:
            cached = self._cache.get(ordinal)
        if cached is None:
            cached = self._generate(ordinal)
            with self._lock:
                self._cache[ordinal] = cached
        return cached

    def _generate(self, ordinal: int) -> pl.DataFrame:
        rng = np.random.default_rng([self.seed, ordinal, 5])
        columns: dict[str, list] = {k: [] for k in ("hour", "video", "combo", "views", "secs", "complete")}
        combos: list[tuple] = []
        profile = _HOURLY / _HOURLY.sum()
        for i in np.nonzero(self.created_day <= ordinal)[0]:
            age = ordinal - self.created_day[i]
            total = rng.poisson(self.pop[i] * (0.15 + 3.0 * math.exp(-age / 10.0)))
            if total == 0:
                continue
            n_combos = int(rng.integers(1, 4))
            split = rng.multinomial(total, rng.dirichlet(np.ones(n_combos)))
            for part in split[split > 0]:
                page = int(rng.integers(0, len(PAGE_URLS)))
                playlist = int(self.home_playlist[i]) if rng.random() < 0.6 else -1
                combo = (
                    page,
                    int(rng.integers(0, len(DEVICES))),
                    int(rng.integers(0, len(self.players))),
                    playlist,
                )
                combos.append(combo)
                hours = rng.multinomial(part, profile)
                for hour in np.nonzero(hours)[0]:
                    views = int(hours[hour])
                    done = rng.binomial(views, self.completion[i])
                    watched = views * self.videos[i]["duration"] * rng.uniform(0.3, 0.9)
                    columns["hour"].append(int(hour))
                    columns["video"].append(int(i))
                    columns["combo"].append(len(combos) - 1)
                    columns["views"].append(views)
                    columns["secs"].append(round(watched))
                    columns["complete"].append(int(done))
        day = date.fromordinal(ordinal)
        start = datetime.combine(day, datetime.min.time(), UTC)
        combo_arr = np.array(combos, dtype=np.int64).reshape(-1, 4)
        idx = np.array(columns["combo"], dtype=np.int64)
        video_idx = np.array(columns["video"], dtype=np.int64)
        playlists = (
            [None if p < 0 else self.playlists[p]["id"] for p in combo_arr[idx, 3]] if len(idx) else []
        )
        devices = [DEVICES[d] for d in combo_arr[idx, 1]] if len(idx) else []
        rpm = [_DEVICE_RPM[d] for d in devices]
        earned = np.array(columns["views"], dtype=float) * np.array(rpm) * self.monetized[video_idx] / 1000
        return pl.DataFrame(
            {
                "HOUR": [start + timedelta(hours=h) for h in columns["hour"]],
                "DAY": [day] * len(idx),
                "VIDEO_ID": [self.videos[v]["id"] for v in video_idx],
                "MEDIA_TYPE": ["LIVE" if self.live[v] else "VIDEO" for v in video_idx],
                "VISITOR_PAGE_URL": [PAGE_URLS[p] for p in combo_arr[idx, 0]] if len(idx) else [],
                "VISITOR_DEVICE_TYPE": devices,
                "PLAYER_ID": [self.players[p]["id"] for p in combo_arr[idx, 2]] if len(idx) else [],
                "PLAYLIST_ID": playlists,
                "views": columns["views"],
                "secs": columns["secs"],
                "complete": columns["complete"],
                "eur": earned.tolist(),
            },
            schema_overrides={
                "HOUR": pl.Datetime("us", "UTC"),
                "DAY": pl.Date,
                "VISITOR_PAGE_URL": pl.String,
                "PLAYLIST_ID": pl.String,
                "views": pl.Int64,
                "secs": pl.Int64,
                "complete": pl.Int64,
                "eur": pl.Float64,
            },
        )

    def report_frame(self, report: Report, vtr_scale: float = 100.0) -> pl.DataFrame:
        """The report's rows: the requested dimensions and metrics over [start, end], grouped."""
        days = [report.start + timedelta(days=i) for i in range((report.end - report.start).days + 1)]
        rows = pl.concat([self.day_rows(d) for d in days])
        dims = list(report.dimensions)
        grouped = rows.group_by(dims, maintain_order=True).agg(
            pl.col("views").sum(), pl.col("secs").sum(), pl.col("complete").sum(), pl.col("eur").sum()
        )
        metrics = {
            "VIEWS": pl.col("views"),
            "TIME_WATCHED_SECONDS": pl.col("secs"),
            "VIEW_THROUGH_RATE": (pl.col("complete") / pl.col("views") * vtr_scale).round(2),
            "AVERAGE_WATCH_TIME_SEC": (pl.col("secs") / pl.col("views")).round(2),
            "ESTIMATED_EARNINGS_EUR": pl.col("eur").round(6),
        }
        return grouped.sort(dims, nulls_last=True).select(
            *dims, *(metrics[m].alias(m) for m in report.metrics)
        )

    def truth(self, start: date, end: date) -> pl.DataFrame:
        """Hourly rows with the seed's dimensions and metrics, as the tests compare against."""
        report = Report(
            "",
            "",
            ("VIEWS", "TIME_WATCHED_SECONDS", "VIEW_THROUGH_RATE"),
            SIMULATED_DIMENSIONS[:1] + SIMULATED_DIMENSIONS[2:],
            start,
            end,
            0,
            0,
            False,
        )
        return self.report_frame(report)


def render_csv(frame: pl.DataFrame, header_style: str, hour_format: str) -> str:
    """CSV text as the vendor is believed to write it (headers and hour format are knobs)."""
    out = frame
    if "HOUR" in out.columns:
        fmt = {
            "iso_z": "%Y-%m-%dT%H:%M:%SZ",
            "space": "%Y-%m-%d %H:%M:%S",
            "space_tz": "%Y-%m-%d %H:%M:%S+00:00",
        }
        out = out.with_columns(pl.col("HOUR").dt.strftime(fmt[hour_format]))
    if "DAY" in out.columns:
        out = out.with_columns(pl.col("DAY").dt.strftime("%Y-%m-%d"))
    names = [c.lower() if header_style == "lower" else c.upper() for c in out.columns]
    buffer = io.StringIO()
    out.rename(dict(zip(out.columns, names, strict=True))).write_csv(buffer)
    return buffer.getvalue()


class DailyMotionSimulator(BaseSimulator):
    """Serves `/oauth/v1/token`, `/graphql`, `/rest/{kind}/{id}` and the reports' CSV links."""

    name = "dailymotion"

    def __init__(
        self,
        world: DailyMotionWorld | None = None,
        client_id: str = SANDBOX_CLIENT_ID,
        client_secret: str = SANDBOX_CLIENT_SECRET,
    ) -> None:
        self.world = world or DailyMotionWorld()
        self.client_id, self.client_secret = client_id, client_secret
        self.clock_offset = 0.0
        self._tokens: dict[str, tuple[float, frozenset[str]]] = {}
        self._refresh: dict[str, frozenset[str]] = {}
        self.reports: dict[str, Report] = {}
        self._frames: dict[tuple[str, float], pl.DataFrame] = {}  # (token, vtr scale) -> rows, built once
        self._lock = threading.RLock()
        self.schema = build_schema(SCHEMA_SDL)
        self.schema.mutation_type.fields["askPartnerReportFile"].resolve = self._ask
        self.schema.query_type.fields["partner"].resolve = lambda root, info: {}
        self.schema.type_map["PartnerSpace"].fields["reportFile"].resolve = self._report_file
        super().__init__(seed=self.world.seed)
        self.knobs = DailyMotionKnobs()

    def now(self) -> float:
        """The simulated clock: wall time plus whatever the tests advanced it by."""
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.clock_offset += seconds

    def env(self, base_url: str) -> dict[str, str]:
        return {
            "DM_BASE_URL": base_url,
            "DM_CLIENT_API": self.client_id,
            "DM_CLIENT_SECRET": self.client_secret,
        }

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/v1/token", self._token, methods=["POST"]),
            Route("/graphql", self._graphql, methods=["POST"]),
            Route("/rest/videos", self._rest_videos, methods=["GET"]),
            Route("/rest/{kind}/{item_id}", self._rest, methods=["GET"]),
            Route("/download/{token}/{part}.csv", self._download, methods=["GET"]),
        ]

    def admin_routes(self) -> list[Route]:
        return [
            *super().admin_routes(),
            Route("/_sandbox/clock", self._admin_clock, methods=["GET", "POST"]),
            Route("/_sandbox/expire_tokens", self._admin_expire, methods=["POST"]),
        ]

    def fault_response(self, endpoint: str, status: int) -> Response:
        if endpoint == "graphql":
            message = "Too many requests" if status == 429 else "Internal server error"
            return JSONResponse({"errors": [{"message": message}]}, status_code=status)
        return JSONResponse(
            {"error": {"code": status, "message": "Too many requests" if status == 429 else "Server error"}},
            status_code=status,
        )

    # -- OAuth ---------------------------------------------------------------------------------------
    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        return await self.serve(
            request,
            "oauth.token",
            lambda r: self._issue(form),
            faults=self.faults.faults_on_token,
            auth=False,
        )

    def _issue(self, form: dict[str, str]) -> Response:
        grant = form.get("grant_type")
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return _oauth_error(401, "invalid_client", "The client credentials are invalid")
        scopes = frozenset(form.get("scope", "").split())
        if grant == "refresh_token":
            with self._lock:
                scopes = self._refresh.pop(form.get("refresh_token", ""), None)
            if scopes is None:
                return _oauth_error(400, "invalid_grant", "The refresh token is invalid or was already used")
        elif grant == "password":
            if (form.get("username"), form.get("password")) != (SANDBOX_USERNAME, SANDBOX_PASSWORD):
                return _oauth_error(400, "invalid_grant", "Invalid username or password")
        elif grant != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type: {grant}")
        if self.knobs.strict_scopes and scopes - KNOWN_SCOPES:
            return _oauth_error(
                400, "invalid_scope", f"Unknown scope: {', '.join(sorted(scopes - KNOWN_SCOPES))}"
            )
        ttl = float(self.faults.token_ttl)
        token, refresh = secrets.token_urlsafe(40), secrets.token_urlsafe(40)
        with self._lock:
            self._tokens[token] = (self.now() + ttl, scopes)
            self._refresh[refresh] = scopes
        self.stats.add("tokens_issued")
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": int(ttl) if ttl.is_integer() else ttl,
                "refresh_token": refresh,
                "scope": " ".join(sorted(scopes)),
            }
        )

    def check_auth(self, request: Request, endpoint: str) -> Response | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry[0] <= self.now():
            self.stats.add("rejected_tokens")
            return JSONResponse(
                {"error": "invalid_token", "error_description": "The access token is invalid or expired"},
                status_code=401,
            )
        request.state.scopes = entry[1]
        return None

    # -- GraphQL -------------------------------------------------------------------------------------
    async def _graphql(self, request: Request) -> Response:
        body = await request.body()
        return await self.serve(request, "graphql", lambda r: self._execute(r, body))

    def _execute(self, request: Request, body: bytes) -> Response:
        try:
            payload = json.loads(body)
            query = payload["query"]
        except (ValueError, KeyError, TypeError):
            return JSONResponse(
                {"errors": [{"message": "Body must be JSON with a 'query'"}]}, status_code=400
            )
        context = {"account": self.client_id, "scopes": request.state.scopes, "base": str(request.base_url)}
        result = graphql_sync(
            self.schema,
            query,
            variable_values=payload.get("variables") or None,
            operation_name=payload.get("operationName"),
            context_value=context,
        )
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [error.formatted for error in result.errors]
            self.stats.add("graphql_errors", len(result.errors))
        return JSONResponse(out)

    def _ask(self, root: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        context = info.context
        if self.knobs.strict_scopes and "create_reports" not in context["scopes"]:
            raise GraphQLError(
                "The access token lacks the create_reports scope", extensions={"code": "FORBIDDEN"}
            )
        metrics, dims = tuple(input["metrics"]), tuple(input["dimensions"])
        start, end = _parse_date(input["startDate"], "startDate"), _parse_date(input["endDate"], "endDate")
        self._validate(metrics, dims, start, end)
        with self._lock:
            now = self.now()
            running = [
                r
                for r in self.reports.values()
                if r.account == context["account"] and r.status(now) == "IN_PROGRESS"
            ]
            if len(running) >= self.knobs.max_concurrent_reports:
                self.stats.add("reports_refused")
                raise GraphQLError(
                    f"Too many reports in progress: at most {self.knobs.max_concurrent_reports} reports "
                    "can be "
                    "generated at the same time",
                    extensions={"code": "TOO_MANY_REPORTS"},
                )
            report = Report(
                token=secrets.token_hex(20),
                account=context["account"],
                metrics=metrics,
                dimensions=dims,
                start=start,
                end=end,
                created=now,
                finish_at=now + float(self.knobs.report_delay),
                fails=False,
            )
            if self.knobs.fail_next_reports > 0:
                self.knobs.fail_next_reports -= 1
                report.fails = True
            self.reports[report.token] = report
        self.stats.add("reports_asked")
        return {"reportFile": self._file_view(report, context["base"]), "status": "OK"}

    def _validate(self, metrics: tuple[str, ...], dims: tuple[str, ...], start: date, end: date) -> None:
        if not metrics or not dims:
            raise GraphQLError("At least one metric and one dimension are required")
        if len(dims) > self.knobs.max_dimensions:
            raise GraphQLError(f"Too many dimensions: {len(dims)} (at most {self.knobs.max_dimensions})")
        unsupported = [n for n in (*metrics, *dims) if n not in SIMULATED_METRICS + SIMULATED_DIMENSIONS]
        if unsupported:
            raise GraphQLError(f"Not available in the sandbox: {', '.join(unsupported)}")
        if "HOUR" in dims and "DAY" in dims:
            raise GraphQLError("HOUR and DAY cannot be combined")
        revenue = [m for m in metrics if m in REVENUE_METRICS]
        if revenue and ("HOUR" in dims or "MINUTE" in dims):
            raise GraphQLError(f"{', '.join(revenue)} is not available by HOUR: use DAY or MONTH")
        if end < start:
            raise GraphQLError("endDate must not be before startDate (the range is at least 1 day)")
        days = (end - start).days + 1
        if days > self.knobs.max_range_days:
            raise GraphQLError(f"Date range too long: {days} days (at most {self.knobs.max_range_days})")
        if end > self.world.today:
            raise GraphQLError(f"endDate {end} is in the future")

    def _report_file(self, root: Any, info: Any, reportToken: str) -> dict[str, Any] | None:
        with self._lock:
            report = self.reports.get(reportToken)
        if report is None or report.account != info.context["account"]:
            raise GraphQLError("Report not found", extensions={"code": "NOT_FOUND"})
        self.stats.add("report_polls")
        return self._file_view(report, info.context["base"])

    def _file_view(self, report: Report, base: str) -> dict[str, Any]:
        status = report.status(self.now())
        edges = []
        if status == "FINISHED":
            count = self._file_count(report)
            edges = [
                {"node": {"id": f"{report.token}-{i}", "link": f"{base}download/{report.token}/{i}.csv"}}
                for i in range(count)
            ]
        return {
            "id": report.token,
            "reportToken": report.token,
            "status": status,
            "createDate": datetime.fromtimestamp(report.created, UTC).isoformat(),
            "downloadLinks": {
                "edges": edges,
                "totalCount": len(edges),
                "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "nextPage": None},
            },
        }

    def _rows(self, report: Report) -> pl.DataFrame:
        key = (report.token, float(self.knobs.vtr_scale))
        with self._lock:
            frame = self._frames.get(key)
        if frame is None:
            frame = self.world.report_frame(report, self.knobs.vtr_scale)
            with self._lock:
                self._frames[key] = frame
        return frame

    def _file_count(self, report: Report) -> int:
        rows = self._rows(report).height
        return max(1, math.ceil(rows / max(1, self.knobs.rows_per_file)))

    # -- downloads and REST --------------------------------------------------------------------------
    async def _download(self, request: Request) -> Response:
        return await self.serve(request, "download", self._csv, auth=False)

    def _csv(self, request: Request) -> Response:
        with self._lock:
            report = self.reports.get(request.path_params["token"])
        status = report.status(self.now()) if report else None
        if status != "FINISHED":
            message = "This report has expired" if status == "EXPIRED" else "No such report file"
            return PlainTextResponse(message, status_code=410 if status == "EXPIRED" else 404)
        frame = self._rows(report)
        part, size = int(request.path_params["part"]), max(1, self.knobs.rows_per_file)
        chunk = frame.slice(part * size, size)
        if part >= self._file_count(report):
            return PlainTextResponse("No such report file", status_code=404)
        self.stats.add("downloads")
        text = render_csv(chunk, self.knobs.header_style, self.knobs.hour_format)
        with self._lock:
            cut = self.knobs.truncate_downloads > 0
            self.knobs.truncate_downloads -= cut
        if cut:
            self.stats.add("truncated")
            text = text[: len(text) // 2]
        return Response(text, media_type="text/csv")

    async def _rest(self, request: Request) -> Response:
        return await self.serve(request, "rest", self._metadata)

    def _metadata(self, request: Request) -> Response:
        kind, item_id = request.path_params["kind"], request.path_params["item_id"]
        items = self.world.by_id.get(kind)
        if items is None or item_id not in items:
            body = {"error": {"code": 404, "message": f"{kind} {item_id} not found", "type": "not_found"}}
            return JSONResponse(body, status_code=404)
        fields = [f for f in request.query_params.get("fields", "id").split(",") if f]
        unknown = [f for f in fields if f not in items[item_id]]
        if unknown:
            return _invalid_parameter(f"Unknown fields: {', '.join(unknown)}")
        return JSONResponse({f: items[item_id][f] for f in fields})

    async def _rest_videos(self, request: Request) -> Response:
        return await self.serve(request, "rest.videos", self._video_list)

    def _video_list(self, request: Request) -> Response:
        """`GET /videos?ids=a,b,...`: the Data API's list form, at most 100 ids a page; unknown ids are
        simply absent from `list`."""
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        if len(ids) > MAX_LIST_IDS:
            return _invalid_parameter(f"ids: at most {MAX_LIST_IDS} ids")
        fields = [f for f in request.query_params.get("fields", "id").split(",") if f]
        videos = self.world.by_id["video"]
        unknown = [f for f in fields if f not in next(iter(videos.values()), {})]
        if unknown:
            return _invalid_parameter(f"Unknown fields: {', '.join(unknown)}")
        found = [{f: videos[i][f] for f in fields} for i in ids if i in videos]
        body = {"page": 1, "limit": MAX_LIST_IDS, "explicit": False, "total": len(found), "has_more": False}
        return JSONResponse({**body, "list": found})

    # -- admin ---------------------------------------------------------------------------------------
    async def _admin_clock(self, request: Request) -> Response:
        if request.method == "POST":
            self.advance(float((await request.json()).get("advance", 0)))
        return JSONResponse(
            {"now": datetime.fromtimestamp(self.now(), UTC).isoformat(), "offset": self.clock_offset}
        )

    async def _admin_expire(self, request: Request) -> Response:
        with self._lock:
            self._tokens = {token: (0.0, scopes) for token, (_, scopes) in self._tokens.items()}
        return JSONResponse({"expired": len(self._tokens)})


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _parse_date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise GraphQLError(f"{name} must be a date (YYYY-MM-DD), got {value!r}") from None


def _invalid_parameter(message: str) -> Response:
    return JSONResponse(
        {"error": {"code": 400, "message": message, "type": "invalid_parameter"}}, status_code=400
    )


def sandbox_simulator(sandbox) -> DailyMotionSimulator:
    """The sandbox's DailyMotion: short report delays so a demo's sensor finishes in seconds."""
    sim = DailyMotionSimulator(DailyMotionWorld(today=sandbox.today, scale=sandbox.scale, seed=sandbox.seed))
    sim.knobs.report_delay = 2.0
    return sim
