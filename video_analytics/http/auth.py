"""Authentication strategies plugged into :class:`~video_analytics.http.client.ApiClient`.

Each strategy also lists its secret values so the client can scrub them from every error and log line.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

from video_analytics.http.errors import ApiError, AuthError

if TYPE_CHECKING:
    from video_analytics.http.client import ApiClient


class Auth(Protocol):
    def headers(self, client: ApiClient) -> dict[str, str]:
        """Headers to add to each attempt (may fetch a token through ``client``)."""
        ...

    def params(self) -> dict[str, str]:
        """Query parameters to add to each attempt."""
        ...

    def invalidate(self) -> None:
        """Forget cached credentials after a 401 so the next attempt gets fresh ones."""
        ...

    def secrets(self) -> list[str]:
        """Values that must never appear in messages."""
        ...


class BearerToken:
    """A static token (e.g. a TMDB v4 read token or Wistia API token)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def headers(self, client: ApiClient) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def params(self) -> dict[str, str]:
        return {}

    def invalidate(self) -> None:
        """A static token cannot be refreshed; the retry after a 401 simply confirms the rejection."""

    def secrets(self) -> list[str]:
        return [self._token]

    def __repr__(self) -> str:
        return "BearerToken(***)"


class QueryParamKey:
    """An API key sent as a query parameter (TMDB v3 ``api_key``)."""

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self._value = value

    def headers(self, client: ApiClient) -> dict[str, str]:
        return {}

    def params(self) -> dict[str, str]:
        return {self.name: self._value}

    def invalidate(self) -> None:
        """Static key: nothing to refresh."""

    def secrets(self) -> list[str]:
        return [self._value]

    def __repr__(self) -> str:
        return f"QueryParamKey({self.name!r}, ***)"


class OAuthClientCredentials:
    """OAuth2 client-credentials grant with a cached, thread-safe, early-refreshed access token.

    ``style="basic"`` sends the client credentials as HTTP Basic auth (Brightcove); ``style="body"``
    sends them as form fields (DailyMotion). The token is renewed ``refresh_margin`` seconds before it
    expires so a request never leaves with a token that dies in flight.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        style: Literal["basic", "body"] = "basic",
        refresh_margin: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if style not in ("basic", "body"):
            raise ValueError("style must be 'basic' or 'body'")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope
        self.style = style
        self.refresh_margin = refresh_margin
        self._clock = clock
        # Re-entrant: the token request itself asks for secrets() (to redact errors) while refreshing.
        self._lock = threading.RLock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._issued: list[str] = []

    def headers(self, client: ApiClient) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(client)}"}

    def params(self) -> dict[str, str]:
        return {}

    def token(self, client: ApiClient) -> str:
        """Return the cached token, fetching a new one (one thread at a time) when stale."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                token, lifetime = self.fetch_token(client)
                self._token, self._expires_at = token, self._clock() + lifetime
                self._issued = [*self._issued[-4:], token]
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def secrets(self) -> list[str]:
        with self._lock:
            return [self._client_secret, self._basic_credentials(), *self._issued]

    def fetch_token(self, client: ApiClient) -> tuple[str, float]:
        """POST the grant through ``client`` (so 5xx/429 are retried); returns (token, usable seconds)."""
        form, headers = self._grant()
        endpoint = urlsplit(self.token_url).path or "/"
        try:
            payload = client.post_json(self.token_url, data=form, headers=headers, use_auth=False)
        except ApiError as exc:
            raise AuthError(
                exc.api,
                "POST",
                endpoint,
                status=exc.status,
                detail=f"OAuth token request failed: {exc.detail}",
                attempts=exc.attempts,
            ) from None
        return self._parse(payload, client.name, endpoint)

    def _grant(self) -> tuple[dict[str, str], dict[str, str]]:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        if self.style == "body":
            return {**form, "client_id": self.client_id, "client_secret": self._client_secret}, {}
        return form, {"Authorization": f"Basic {self._basic_credentials()}"}

    def _basic_credentials(self) -> str:
        return base64.b64encode(f"{self.client_id}:{self._client_secret}".encode()).decode()

    def _parse(self, payload: Any, api: str, endpoint: str) -> tuple[str, float]:
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            detail = "OAuth token response has no access_token"
            raise AuthError(api, "POST", endpoint, status=200, detail=detail)
        try:
            expires_in = float(payload.get("expires_in", 3600))
        except (TypeError, ValueError):
            expires_in = 3600.0
        # Very short-lived tokens would otherwise be refreshed on every call; keep at least half their life.
        return token, max(expires_in - self.refresh_margin, expires_in / 2)

    def __repr__(self) -> str:
        return f"OAuthClientCredentials({self.token_url!r}, {self.client_id!r}, ***, style={self.style!r})"
