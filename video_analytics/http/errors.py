"""Error types and secret redaction shared by every vendor client.

Errors carry the API name, method, endpoint path and status so a failed Dagster run says *where* it
failed without anyone digging through logs, while never echoing query strings, headers or tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    import httpx

DETAIL_LIMIT = 300
REDACTED = "***"

# Defence in depth: even unknown secrets sitting in a query string or JSON field get masked.
_SECRET_FIELDS = re.compile(
    r"(?i)(api_key|apikey|access_token|client_secret|token|password|secret)"
    r"(\"?\s*[:=]\s*\"?)([^\s&\"',;}]+)"
)
_MESSAGE_KEYS = ("error_description", "message", "status_message", "error_message", "detail", "error")


class ApiError(Exception):
    """A vendor call failed for good (after retries, or at once for a non-retryable status)."""

    def __init__(
        self,
        api: str,
        method: str,
        endpoint: str,
        *,
        status: int | None = None,
        detail: str = "",
        attempts: int = 1,
    ) -> None:
        self.api = api
        self.method = method
        self.endpoint = endpoint
        self.status = status
        self.detail = truncate(detail)
        self.attempts = attempts
        super().__init__(str(self))

    def _outcome(self) -> str:
        return f"failed with HTTP {self.status}" if self.status is not None else "failed without a response"

    def __str__(self) -> str:
        plural = "attempt" if self.attempts == 1 else "attempts"
        head = f"{self.api} {self.method} {self.endpoint} {self._outcome()} after {self.attempts} {plural}"
        return f"{head}: {self.detail}" if self.detail else head

    def __reduce__(self):  # keep pickling (multiprocess executors) working with keyword-only args
        state = {"status": self.status, "detail": self.detail, "attempts": self.attempts}
        return (_rebuild, (type(self), self.api, self.method, self.endpoint, state))


def _rebuild(cls: type[ApiError], api: str, method: str, endpoint: str, state: dict) -> ApiError:
    return cls(api, method, endpoint, **state)


class AuthError(ApiError):
    """Credentials were rejected even after a token refresh, or the token endpoint failed."""


class ThrottledError(ApiError):
    """The API kept answering 429 until the retry budget ran out."""


class ResponseFormatError(ApiError):
    """The body was not the JSON we expected (often a truncated transfer)."""

    def _outcome(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"returned an unusable response{status}"


def truncate(text: str, limit: int = DETAIL_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Mask every known secret (raw and URL-encoded) plus anything that looks like a credential field."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret, safe="")}:
            text = text.replace(form, REDACTED)
    return _SECRET_FIELDS.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def body_excerpt(response: httpx.Response) -> str:
    """The vendor's own error message if the body is JSON, else the raw text (callers redact + truncate)."""
    text = response.text
    try:
        payload = json.loads(text)
    except ValueError:
        return text.strip() or f"empty body (HTTP {response.status_code} {response.reason_phrase})"
    message = _vendor_message(payload)
    return message if message else text.strip()


def _vendor_message(payload: Any) -> str | None:
    if isinstance(payload, list) and payload:
        payload = payload[0]  # Brightcove wraps errors in a list
    if not isinstance(payload, dict):
        return None
    parts = [str(payload[k]) for k in _MESSAGE_KEYS if isinstance(payload.get(k), str | int) and payload[k]]
    code = payload.get("error_code") or payload.get("code")
    if code and str(code) not in parts:
        parts.insert(0, str(code))
    return ": ".join(dict.fromkeys(parts)) or None
