"""DailyMotion partner API client: OAuth, report GraphQL, CSV downloads, REST metadata (no Dagster).

Differs from the original `DailymotionClient` on purpose:

* The token lives in memory with its *absolute* expiry (the original kept a relative `expires_in` in
  memory, so with `in_memory=True` every call fetched a new token) and is refreshed early, or after a 401.
* Asking for a report and polling it are separate calls, so a Dagster sensor can drive them across
  ticks instead of one process sleeping for up to two hours with unbounded polling.
* GraphQL errors (HTTP 200 with an `errors` array) raise with the vendor's messages instead of being
  silently collected as "no token".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from video_analytics.http import ApiClient, ApiError, AuthError, ResponseFormatError, RetryPolicy
from video_analytics.http.auth import OAuthClientCredentials

log = logging.getLogger(__name__)

PRODUCTION_BASE_URL = "https://partner.api.dailymotion.com"
DEFAULT_SCOPES = ("create_reports", "delete_reports", "read_reports")
#: The seed's daily report: metrics and dimensions of `main.py`.
DEFAULT_METRICS = ("VIEWS", "TIME_WATCHED_SECONDS", "VIEW_THROUGH_RATE")
DEFAULT_DIMENSIONS = (
    "HOUR",
    "VIDEO_ID",
    "MEDIA_TYPE",
    "VISITOR_PAGE_URL",
    "VISITOR_DEVICE_TYPE",
    "PLAYER_ID",
    "PLAYLIST_ID",
)
#: The seed's second report: estimated earnings per day (revenue metrics are not available by HOUR).
EARNINGS_METRICS = ("ESTIMATED_EARNINGS_EUR",)
EARNINGS_DIMENSIONS = ("DAY", "VIDEO_ID", "VISITOR_PAGE_URL", "VISITOR_DEVICE_TYPE")
STATUSES = ("IN_PROGRESS", "FINISHED", "FAILED", "EXPIRED")
LIST_IDS = 100  # ids per `GET /videos?ids=` request (the Data API's page limit)
METADATA_FIELDS = {
    "video": ("id", "title", "description", "duration", "created_time", "tags", "url"),
    "playlist": ("id", "name"),
    "player": ("id", "label"),
}
ASK_MUTATION = "askPartnerReportFile(input: ${var}) {{ reportFile {{ reportToken }} }}"
POLL_FIELD = "reportFile(reportToken: ${var}) {{ status downloadLinks {{ edges {{ node {{ link }} }} }} }}"


class DailyMotionGraphQLError(ApiError):
    """The GraphQL endpoint answered 200 but reported errors (validation, refused report, ...)."""

    def _outcome(self) -> str:
        return "returned GraphQL errors"


@dataclass(frozen=True)
class ReportSpec:
    """One report: metrics and dimensions over an inclusive date range (the vendor's `input`)."""

    start: date
    end: date
    metrics: tuple[str, ...] = DEFAULT_METRICS
    dimensions: tuple[str, ...] = DEFAULT_DIMENSIONS
    product: str = "ALL"

    def variables(self) -> dict[str, Any]:
        return {
            "metrics": list(self.metrics),
            "dimensions": list(self.dimensions),
            "startDate": self.start.isoformat(),
            "endDate": self.end.isoformat(),
            "product": self.product,
        }


@dataclass(frozen=True)
class AskResult:
    """The outcome of one aliased `askPartnerReportFile`: a token, or the vendor's error message."""

    spec: ReportSpec
    token: str | None = None
    error: str | None = None

    @property
    def refused_busy(self) -> bool:
        """The vendor refused because too many reports are generating (retry later, not a failure)."""
        return self.error is not None and "too many reports" in self.error.lower()


@dataclass(frozen=True)
class ReportState:
    token: str
    status: str
    links: tuple[str, ...] = ()
    error: str | None = None


class TokenAuth(OAuthClientCredentials):
    """The original's Authentication class: client_credentials or password grant, plus refresh_token.

    A refresh token from the last grant is tried first when the access token expires; if the vendor
    rejects it, a new grant is made. Nothing is persisted to disk (the Dagster resource holds it).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str] = DEFAULT_SCOPES,
        username: str | None = None,
        password: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(token_url, client_id, client_secret, " ".join(scopes), style="body", clock=clock)
        self.username, self._password = username, password
        self._refresh_token: str | None = None
        self.grants: list[str] = []  # grant types used, oldest first (tests and metadata)
        self._grant_lock = threading.Lock()

    def secrets(self) -> list[str]:
        return [*super().secrets(), self._password or "", self._refresh_token or ""]

    def fetch_token(self, client: ApiClient) -> tuple[str, float]:
        if self._refresh_token:
            try:
                return self._fetch(client, self._form("refresh_token"))
            except AuthError:
                log.info("dailymotion: refresh token rejected, asking for a new token")
        grant = "password" if self.username else "client_credentials"
        return self._fetch(client, self._form(grant))

    def _form(self, grant: str) -> dict[str, str]:
        form = {"grant_type": grant, "client_id": self.client_id, "client_secret": self._client_secret}
        if grant == "refresh_token":
            form["refresh_token"] = self._refresh_token or ""
        else:
            form["scope"] = self.scope or ""
        if grant == "password":
            form.update(username=self.username or "", password=self._password or "")
        return form

    def _fetch(self, client: ApiClient, form: dict[str, str]) -> tuple[str, float]:
        endpoint = urlsplit(self.token_url).path or "/"
        try:
            payload = client.post_json(self.token_url, data=form, use_auth=False)
        except ApiError as exc:
            detail = f"OAuth {form['grant_type']} grant failed: {exc.detail}"
            raise AuthError(exc.api, "POST", endpoint, status=exc.status, detail=detail) from None
        with self._grant_lock:
            self.grants.append(form["grant_type"])
            if isinstance(payload, dict) and isinstance(payload.get("refresh_token"), str):
                self._refresh_token = payload["refresh_token"]
        return self._parse(payload, client.name, endpoint)


class DailyMotionClient:
    """Typed access to the partner API: reports (ask, poll, download) and REST metadata."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        base_url: str = PRODUCTION_BASE_URL,
        auth_url: str | None = None,
        graphql_url: str | None = None,
        rest_url: str | None = None,
        scopes: Sequence[str] = DEFAULT_SCOPES,
        username: str | None = None,
        password: str | None = None,
        retry: RetryPolicy | None = None,
        metadata_concurrency: int = 10,
        auth: TokenAuth | None = None,
    ) -> None:
        """`auth` shares a token (and its refresh) between clients; by default each client has its own."""
        base = base_url.rstrip("/")
        retry = retry or RetryPolicy()
        self.auth = auth or TokenAuth(
            auth_url or f"{base}/oauth/v1/token", client_id, client_secret, scopes, username, password
        )
        self.graphql_url = graphql_url or f"{base}/graphql"
        self.api = ApiClient("dailymotion", base, auth=self.auth, retry=retry, max_concurrency=4)
        self.rest = ApiClient(
            "dailymotion-rest",
            (rest_url or f"{base}/rest").rstrip("/") + "/",
            auth=self.auth,
            retry=retry,
            max_concurrency=metadata_concurrency,
        )
        # Download links are pre-signed absolute URLs: no Authorization header goes to them.
        self.downloads = ApiClient("dailymotion-download", base, retry=retry, max_concurrency=4)
        self.metadata_concurrency = metadata_concurrency

    def close(self) -> None:
        for api in (self.api, self.rest, self.downloads):
            api.close()

    def __enter__(self) -> DailyMotionClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def counters(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for api in (self.api, self.rest, self.downloads):
            for key, value in api.counters.as_metadata().items():
                totals[key] = totals.get(key, 0) + value
        return totals

    # -- GraphQL ---------------------------------------------------------------------------------
    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, *, idempotent: bool = True
    ) -> tuple[dict, list[dict]]:
        """POST a query; returns (data, errors). Raises if there is no data at all."""
        body = self.api.post_json(
            self.graphql_url, json={"query": query, "variables": variables or {}}, idempotent=idempotent
        )
        endpoint = urlsplit(self.graphql_url).path
        if not isinstance(body, dict) or ("data" not in body and "errors" not in body):
            raise ResponseFormatError(
                "dailymotion", "POST", endpoint, status=200, detail="not a GraphQL body"
            )
        errors = body.get("errors") or []
        data = body.get("data")
        if not isinstance(data, dict):
            messages = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
            raise DailyMotionGraphQLError(
                "dailymotion", "POST", endpoint, status=200, detail=self.api.redact(messages or "no data")
            )
        return data, [e for e in errors if isinstance(e, dict)]

    def ask_reports(self, specs: Sequence[ReportSpec]) -> list[AskResult]:
        """Ask for several reports in one request (aliased mutations); each gets a token or an error.

        Not repeated after a timeout, 5xx or cut-off answer: the vendor may have created the reports,
        and asking again would create duplicates. The error reaches the caller (the sensor backs off).
        """
        if not specs:
            return []
        params = ", ".join(f"$in{i}: AskPartnerReportFileInput!" for i in range(len(specs)))
        fields = " ".join(f"r{i}: " + ASK_MUTATION.format(var=f"in{i}") for i in range(len(specs)))
        variables = {f"in{i}": spec.variables() for i, spec in enumerate(specs)}
        data, errors = self.graphql(
            f"mutation AskReports({params}) {{ {fields} }}", variables, idempotent=False
        )
        by_alias = _errors_by_alias(errors)
        results = []
        for i, spec in enumerate(specs):
            node = data.get(f"r{i}") or {}
            token = ((node.get("reportFile") or {}) if isinstance(node, dict) else {}).get("reportToken")
            if isinstance(token, str) and token:
                results.append(AskResult(spec, token=token))
            else:
                results.append(AskResult(spec, error=by_alias.get(f"r{i}", "no reportToken in the response")))
        return results

    def report_states(self, tokens: Sequence[str]) -> dict[str, ReportState]:
        """Status and download links of several reports in one query."""
        if not tokens:
            return {}
        params = ", ".join(f"$t{i}: String!" for i in range(len(tokens)))
        fields = " ".join(f"r{i}: " + POLL_FIELD.format(var=f"t{i}") for i in range(len(tokens)))
        variables = {f"t{i}": token for i, token in enumerate(tokens)}
        data, errors = self.graphql(f"query Reports({params}) {{ partner {{ {fields} }} }}", variables)
        by_alias = _errors_by_alias(errors)
        partner = data.get("partner") or {}
        states = {}
        for i, token in enumerate(tokens):
            node = partner.get(f"r{i}") if isinstance(partner, dict) else None
            states[token] = _state(token, node, by_alias.get(f"r{i}"))
        return states

    # -- downloads and REST ------------------------------------------------------------------------
    def download(self, link: str) -> str:
        return self.downloads.get_text(link)

    def metadata(self, kind: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """REST metadata by id with bounded concurrency; ids the API does not know are left out.

        Videos come 100 a request from the list endpoint (`GET /videos?ids=...`, the Data API's `ids`
        filter); playlists and players, a handful per report, one request each."""
        fields = ",".join(METADATA_FIELDS[kind])
        unique = sorted({i for i in ids if i})
        if kind == "video":
            batches = [unique[i : i + LIST_IDS] for i in range(0, len(unique), LIST_IDS)]
            with ThreadPoolExecutor(max_workers=max(1, self.metadata_concurrency)) as pool:
                pages = list(pool.map(lambda batch: self._video_list(batch, fields), batches))
            wanted = set(unique)
            return {item["id"]: item for page in pages for item in page if item.get("id") in wanted}

        def one(item_id: str) -> tuple[str, dict[str, Any] | None]:
            try:
                body = self.rest.get_json(f"{kind}/{item_id}", params={"fields": fields}, expect=dict)
            except ApiError as exc:
                if exc.status == 404:
                    return item_id, None
                raise
            return item_id, body

        with ThreadPoolExecutor(max_workers=max(1, self.metadata_concurrency)) as pool:
            found = dict(pool.map(one, unique))
        return {k: v for k, v in found.items() if v is not None}

    def _video_list(self, ids: list[str], fields: str) -> list[dict[str, Any]]:
        params = {"ids": ",".join(ids), "fields": fields, "limit": LIST_IDS}
        body = self.rest.get_json("videos", params=params, expect=dict)
        items = body.get("list")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ResponseFormatError(
                "dailymotion-rest", "GET", "videos", status=200, detail="expected an object with a 'list'"
            )
        return items


def _errors_by_alias(errors: list[dict]) -> dict[str, str]:
    out: dict[str, str] = {}
    for error in errors:
        path = error.get("path") or []
        alias = next((p for p in path if isinstance(p, str) and p.startswith("r")), "")
        out[alias] = f"{out[alias]}; {error.get('message')}" if alias in out else str(error.get("message"))
    return out


def _state(token: str, node: Any, error: str | None) -> ReportState:
    if not isinstance(node, dict):
        return ReportState(token, "UNKNOWN", error=error or "report missing from the response")
    status = node.get("status")
    if status not in STATUSES:
        return ReportState(token, "UNKNOWN", error=f"unexpected status {status!r}")
    edges = ((node.get("downloadLinks") or {}).get("edges")) or []
    links = tuple(
        e["node"]["link"]
        for e in edges
        if isinstance(e, dict) and isinstance((e.get("node") or {}).get("link"), str)
    )
    if status == "FINISHED" and not links:
        return ReportState(token, "UNKNOWN", error="FINISHED report without download links")
    return ReportState(token, status, links)
