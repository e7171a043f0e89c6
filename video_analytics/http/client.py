"""The one HTTP client every vendor module uses: retries, auth refresh, rate and concurrency limits.

Synchronous on purpose: assets fan out with a ThreadPoolExecutor, and a single shared ``ApiClient``
is safe to use from all of its threads.
"""

from __future__ import annotations

import functools
import logging
import random as _random
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from video_analytics.http.auth import Auth
from video_analytics.http.errors import (
    ApiError,
    AuthError,
    ResponseFormatError,
    ThrottledError,
    body_excerpt,
    redact,
    truncate,
)
from video_analytics.http.ratelimit import account_id, account_limiter
from video_analytics.http.retry import RequestCounters, RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    import httpx  # imported when the first client is built: a definitions load needs no HTTP stack

log = logging.getLogger("video_analytics.http")

#: httpx's exception names that a retry can cure.
_RETRYABLE_ERRORS = ("TimeoutException", "NetworkError", "RemoteProtocolError")
#: Failures that prove the request never reached the server: safe to repeat even when it is not idempotent.
_UNSENT_ERRORS = ("ConnectError", "ConnectTimeout")
_THROTTLE_STATUSES = (429, 503)
_AUTH_STATUSES = (401, 403)
#: New tokens one request may ask for after 401/403 answers before the error is final.
MAX_AUTH_REFRESHES = 3

Decoder = Callable[["httpx.Response"], Any]


class _StripQueryFilter(logging.Filter):
    """httpx logs every request URL at INFO; query strings may carry API keys (TMDB), so drop them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_without_query(arg) for arg in record.args)
        return True


def _without_query(arg: object) -> object:
    import httpx

    return str(arg).split("?", 1)[0] if isinstance(arg, httpx.URL) else arg


def _strip_queries_from_httpx_logs() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _StripQueryFilter) for f in httpx_log.filters):
        httpx_log.addFilter(_StripQueryFilter())


def _is_one_of(exc: BaseException, names: tuple[str, ...]) -> bool:
    """``isinstance`` against httpx exception classes named in ``names`` (httpx is imported lazily)."""
    import httpx

    return isinstance(exc, tuple(getattr(httpx, name) for name in names))


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """The verifying TLS context every client of this process shares.

    httpx builds a new context per client by default, loading the whole CA bundle each time (tens
    of milliseconds of CPU), and clients are built per sensor tick and per asset: a DailyMotion
    backfill built dozens. httpx reads ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` as before, once, when
    the process builds its first client.
    """
    import httpx

    return httpx.create_ssl_context(trust_env=True)


@dataclass
class _Failure:
    """One failed attempt: what to raise if it is the last, and whether retrying can help."""

    error: type[ApiError]
    status: int | None
    detail: str
    label: str
    retryable: bool = False
    retry_after: float | None = None
    auth: bool = False
    unsent: bool = False  # the server certainly did not act on the request (connect error, throttled)


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    data: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None
    use_auth: bool = True
    idempotent: bool = True


def _identity(response: httpx.Response) -> httpx.Response:
    return response


def _decode_json(response: httpx.Response) -> Any:
    if response.status_code == 204:
        return None
    return response.json()


def _decode_text(response: httpx.Response) -> str:
    return response.text


class ApiClient:
    """A named, thread-safe client for one vendor API (``name`` appears in errors and logs)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        auth: Auth | None = None,
        rate_limit: float | None = None,
        rate_burst: int | None = None,
        max_concurrency: int = 4,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        headers: dict[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        transport: httpx.BaseTransport | None = None,
        account: str | None = None,
    ) -> None:
        self.name = name
        self.auth = auth
        self.retry = retry or RetryPolicy()
        self.counters = RequestCounters()
        self._sleep = sleep
        self._random = random
        self._bucket = (
            account_limiter(name, account or self._account(base_url), rate_limit, rate_burst, sleep, clock)
            if rate_limit
            else None
        )
        self._slots = threading.BoundedSemaphore(max_concurrency)
        import httpx  # here, not at module import: loading the definitions builds no client

        _strip_queries_from_httpx_logs()
        self._http = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            transport=transport,
            verify=shared_ssl_context(),
            trust_env=True,  # honour HTTPS_PROXY / HTTP_PROXY / NO_PROXY
            follow_redirects=True,  # CSV exports are often redirected to object storage
            limits=httpx.Limits(max_connections=max(max_concurrency * 2, 10)),
        )

    # -- public API --------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        use_auth: bool = True,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send with retries and auth; returns a <400 response or raises :class:`ApiError`.

        Every method is retried by default, POST included: most vendor POSTs we make (token grants,
        report queries) are read-only, so repeating them is safe and beats failing a whole partition.
        A call that creates something (``idempotent=False``) is only repeated when the failure proves
        the server did not act on it: a connect error, a 429, a 503 with ``Retry-After``, or a 401/403
        answered before any work. A timeout, a 5xx or a cut-off body may hide a request that was
        processed, so the caller gets the error and decides (e.g. asks again later, knowing that).
        """
        call = _Call(method.upper(), path, params, json, data, headers, use_auth, idempotent)
        return self._execute(call, _identity)

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        expect: type | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """GET and parse JSON; ``expect`` (e.g. ``dict``/``list``) turns a wrong shape into an error."""
        result = self._execute(_Call("GET", path, params, None, None, headers), _decode_json)
        if expect is not None and not isinstance(result, expect):
            endpoint = self._http.build_request("GET", path).url.path
            detail = f"expected a JSON {expect.__name__}, got {type(result).__name__}"
            self.counters.add("errors")
            raise ResponseFormatError(self.name, "GET", endpoint, status=200, detail=detail)
        return result

    def post_json(
        self,
        path: str,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        use_auth: bool = True,
        idempotent: bool = True,
    ) -> Any:
        """POST and parse JSON; ``idempotent=False`` limits retries as :meth:`request` describes."""
        call = _Call("POST", path, None, json, data, headers, use_auth, idempotent)
        return self._execute(call, _decode_json)

    def get_text(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """GET a text body (CSV exports)."""
        return self._execute(_Call("GET", path, params), _decode_text)

    def close(self) -> None:
        self._http.close()
        if hasattr(self._bucket, "close"):
            self._bucket.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def secrets(self) -> list[str]:
        return list(self.auth.secrets()) if self.auth is not None and hasattr(self.auth, "secrets") else []

    def _account(self, base_url: str) -> str:
        """Whose rate budget this client spends: its credential's digest (one per vendor account)."""
        secrets = self.secrets()
        return account_id(secrets[0] if secrets else base_url)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets())

    # -- retry loop ------------------------------------------------------------------------------

    def _execute(self, call: _Call, decode: Decoder) -> Any:
        refreshes = 0
        attempt = 0
        while True:
            attempt += 1
            outcome = self._attempt(call, decode)
            if not isinstance(outcome, _Failure):
                return outcome
            endpoint = self._endpoint(call)  # for messages only: building it costs a request's parsing
            if self._may_refresh(outcome, call, refreshes):
                refreshes += 1  # a fresh-token retry, not counted against the backoff budget
                attempt -= 1
                self.auth.invalidate()
                self._note_retry(call.method, endpoint, f"{outcome.label}, refreshing credentials", 0.0)
                continue
            unsafe = outcome.retryable and not call.idempotent and not outcome.unsent
            if not outcome.retryable or unsafe or attempt >= self.retry.max_attempts:
                self.counters.add("errors")
                detail = outcome.detail
                if unsafe:
                    detail = f"{detail} (not retried: the server may have acted on this request)"
                raise outcome.error(
                    self.name,
                    call.method,
                    endpoint,
                    status=outcome.status,
                    detail=detail,
                    attempts=attempt,
                )
            wait = self._wait(outcome, attempt)
            self._note_retry(call.method, endpoint, outcome.label, wait)
            self._sleep(wait)

    def _endpoint(self, call: _Call) -> str:
        return self._http.build_request(call.method, call.path).url.path

    def _may_refresh(self, outcome: _Failure, call: _Call, refreshes: int) -> bool:
        """Each 401/403 earns a new token and a retry, up to ``MAX_AUTH_REFRESHES`` per request: a
        vendor that revokes tokens every second may reject the fresh one too, while credentials that
        are really refused still fail after a few cheap, sleep-free attempts."""
        return outcome.auth and call.use_auth and self.auth is not None and refreshes < MAX_AUTH_REFRESHES

    def _wait(self, outcome: _Failure, attempt: int) -> float:
        if outcome.retry_after is not None:
            return self.retry.honour_retry_after(outcome.retry_after)
        return self.retry.backoff(attempt, self._random())

    def _build(self, call: _Call) -> httpx.Request:
        headers = dict(call.headers or {})
        params = dict(call.params or {})
        if call.use_auth and self.auth is not None:
            headers.update(self.auth.headers(self))
            params.update(self.auth.params())
        return self._http.build_request(
            call.method, call.path, params=params or None, json=call.json, data=call.data, headers=headers
        )

    def _attempt(self, call: _Call, decode: Decoder) -> Any:
        import httpx

        try:
            response = self._send(call)
        except httpx.HTTPError as exc:
            detail = self._detail(f"{type(exc).__name__}: {exc}")
            retryable = _is_one_of(exc, _RETRYABLE_ERRORS)
            unsent = _is_one_of(exc, _UNSENT_ERRORS)
            return _Failure(ApiError, None, detail, type(exc).__name__, retryable, unsent=unsent)
        if response.status_code < 400:
            return self._decode(response, decode)
        return self._classify(response)

    def _send(self, call: _Call) -> httpx.Response:
        """Wait for the rate limit first and only then take the token: a token fetched before a long
        wait in the bucket could expire (or be revoked) before the request leaves."""
        if self._bucket is not None:
            self._bucket.acquire()
        request = self._build(call)
        self.counters.add("requests")
        with self._slots:
            response = self._http.send(request)
        self.counters.add("bytes_received", response.num_bytes_downloaded)
        return response

    def _decode(self, response: httpx.Response, decode: Decoder) -> Any:
        try:
            return decode(response)
        except ValueError as exc:  # JSONDecodeError / UnicodeDecodeError
            detail = f"response body is not valid JSON (truncated?): {exc}; {len(response.content)} bytes"
            # A cut-off body is usually a transient transfer problem, so it gets the 5xx treatment.
            status = response.status_code
            return _Failure(ResponseFormatError, status, self._detail(detail), "invalid JSON", retryable=True)

    def _classify(self, response: httpx.Response) -> _Failure:
        status = response.status_code
        detail = self._detail(body_excerpt(response))
        label = f"HTTP {status}"
        if status in _AUTH_STATUSES:
            return _Failure(AuthError, status, detail, label, auth=True)
        if status not in self.retry.retry_statuses:
            return _Failure(ApiError, status, detail, label)
        retry_after = None
        if status in _THROTTLE_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429 or retry_after is not None:
            self.counters.add("throttled")
        error = ThrottledError if status == 429 else ApiError
        unsent = status == 429 or (status == 503 and retry_after is not None)
        return _Failure(error, status, detail, label, retryable=True, retry_after=retry_after, unsent=unsent)

    def _detail(self, text: str) -> str:
        return truncate(self.redact(text))

    def _note_retry(self, method: str, endpoint: str, label: str, wait: float) -> None:
        self.counters.add("retries")
        log.warning("%s %s %s: %s; retrying in %.2fs", self.name, method, endpoint, label, wait)

    def __repr__(self) -> str:
        return f"ApiClient({self.name!r}, {str(self._http.base_url)!r})"
