from __future__ import annotations

import base64
import logging
from itertools import count

import pytest

from video_analytics.http import (
    ApiError,
    AuthError,
    BearerToken,
    OAuthClientCredentials,
    QueryParamKey,
    RetryPolicy,
    redact,
)
from video_analytics.http.client import MAX_AUTH_REFRESHES
from video_analytics_tests.http.conftest import Reply

SECRET = "s3cr3t-Client-Value"
API_KEY = "tmdb-key-0123456789"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _token_replies(expires_in: int = 300):
    numbers = count(1)
    return lambda seen: Reply(200, {"access_token": f"tok-{next(numbers)}", "expires_in": expires_in})


def _echo_auth(seen):
    return Reply(200, {"auth": seen.headers.get("Authorization")})


def _oauth(server, clock=None, **kwargs) -> OAuthClientCredentials:
    return OAuthClientCredentials(
        f"{server.url}/v4/access_token", "client-id", SECRET, clock=clock or FakeClock(), **kwargs
    )


def test_token_cached_across_calls(server, make_client):
    server.on("POST", "/v4/access_token", _token_replies())
    server.on("GET", "/v1/videos", _echo_auth)
    client = make_client("brightcove-cms", auth=_oauth(server))
    for _ in range(3):
        assert client.get_json("/v1/videos") == {"auth": "Bearer tok-1"}
    (token_call,) = server.hits("/v4/access_token")
    expected = base64.b64encode(f"client-id:{SECRET}".encode()).decode()
    assert token_call.headers["Authorization"] == f"Basic {expected}"
    assert token_call.form == {"grant_type": "client_credentials"}
    assert client.counters.requests == 4  # token request counted too


def test_body_style_and_scope(server, make_client):
    server.on("POST", "/oauth/token", _token_replies())
    server.on("GET", "/me", _echo_auth)
    auth = OAuthClientCredentials(
        f"{server.url}/oauth/token", "dm-id", SECRET, scope="read", style="body", clock=FakeClock()
    )
    assert make_client(auth=auth).get_json("/me") == {"auth": "Bearer tok-1"}
    (token_call,) = server.hits("/oauth/token")
    assert "Authorization" not in token_call.headers
    assert token_call.form == {
        "grant_type": "client_credentials",
        "scope": "read",
        "client_id": "dm-id",
        "client_secret": SECRET,
    }


def test_token_refreshed_before_expiry(server, make_client):
    clock = FakeClock()
    server.on("POST", "/v4/access_token", _token_replies(expires_in=300))
    server.on("GET", "/v1/videos", _echo_auth)
    client = make_client(auth=_oauth(server, clock=clock, refresh_margin=30))
    assert client.get_json("/v1/videos")["auth"] == "Bearer tok-1"
    clock.now += 269
    assert client.get_json("/v1/videos")["auth"] == "Bearer tok-1"
    clock.now += 1  # 270 s = expires_in - refresh_margin
    assert client.get_json("/v1/videos")["auth"] == "Bearer tok-2"
    assert len(server.hits("/v4/access_token")) == 2


def test_401_refreshes_once_then_succeeds(server, make_client, sleeps):
    server.on("POST", "/v4/access_token", _token_replies())
    server.on("GET", "/v1/videos", Reply(401, {"message": "expired"}), _echo_auth)
    client = make_client(auth=_oauth(server))
    assert client.get_json("/v1/videos") == {"auth": "Bearer tok-2"}
    assert len(server.hits("/v4/access_token")) == 2
    assert sleeps == []
    assert client.counters.retries == 1


def test_401_that_persists_raises_auth_error_after_a_few_fresh_tokens(server, make_client, sleeps):
    server.on("POST", "/v4/access_token", _token_replies())
    server.on("GET", "/v1/videos", Reply(401, [{"error_code": "UNAUTHORIZED", "message": "nope"}]))
    client = make_client("brightcove-cms", auth=_oauth(server))
    with pytest.raises(AuthError) as info:
        client.get_json("/v1/videos")
    assert info.value.status == 401
    assert "brightcove-cms GET /v1/videos failed with HTTP 401" in str(info.value)
    assert len(server.hits("/v1/videos")) == MAX_AUTH_REFRESHES + 1
    assert len(server.hits("/v4/access_token")) == MAX_AUTH_REFRESHES + 1
    assert sleeps == []


def test_each_401_gets_a_fresh_token_when_tokens_are_revoked_again_and_again(server, make_client, sleeps):
    """A vendor revoking tokens every second may reject the new token too: each 401 is one refresh."""
    server.on("POST", "/v4/access_token", _token_replies())
    revoked = Reply(401, [{"error_code": "UNAUTHORIZED", "message": "Permission denied."}])
    server.on("GET", "/v1/videos", revoked, revoked, revoked, _echo_auth)
    client = make_client("brightcove-cms", auth=_oauth(server))
    assert client.get_json("/v1/videos") == {"auth": "Bearer tok-4"}
    sent = [hit.headers["Authorization"] for hit in server.hits("/v1/videos")]
    assert sent == ["Bearer tok-1", "Bearer tok-2", "Bearer tok-3", "Bearer tok-4"]
    assert sleeps == [] and client.counters.retries == 3


def test_the_token_is_taken_after_the_rate_limit_wait_not_before(server, make_client):
    """Tokens live one (fake) second; the rate limit holds each request two. A token attached before
    the wait would always arrive expired; taken after it, every request carries a live one."""
    clock = FakeClock()
    issued: dict[str, float] = {}
    numbers = count(1)

    def token(seen):
        name = f"tok-{next(numbers)}"
        issued[name] = clock.now
        return Reply(200, {"access_token": name, "expires_in": 1})

    def videos(seen):
        name = seen.headers["Authorization"].removeprefix("Bearer ")
        if clock.now - issued[name] >= 1:
            return Reply(401, [{"error_code": "UNAUTHORIZED", "message": "Permission denied."}])
        return Reply(200, {"auth": name})

    def wait(seconds: float) -> None:
        clock.now += seconds

    server.on("POST", "/v4/access_token", *[token] * 8)
    server.on("GET", "/v1/videos", *[videos] * 8)
    auth = _oauth(server, clock=clock, refresh_margin=0.5)
    client = make_client("brightcove-cms", auth=auth, rate_limit=0.5, rate_burst=1, sleep=wait)
    assert [client.get_json("/v1/videos")["auth"] for _ in range(3)] == ["tok-1", "tok-2", "tok-3"]
    assert client.counters.retries == 0


def test_token_endpoint_rejection_is_auth_error_without_secret(server, make_client, caplog):
    server.on(
        "POST",
        "/v4/access_token",
        Reply(401, {"error": "invalid_client", "error_description": f"bad secret {SECRET}"}),
    )
    client = make_client("brightcove-cms", auth=_oauth(server))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as info:
        client.get_json("/v1/videos")
    msg = str(info.value)
    assert "/v4/access_token" in msg and "HTTP 401" in msg and "invalid_client" in msg
    assert SECRET not in msg and SECRET not in caplog.text
    assert server.hits("/v1/videos") == []


def test_token_endpoint_5xx_is_retried(server, make_client, sleeps):
    server.on(
        "POST", "/v4/access_token", Reply(503), Reply(429, headers={"Retry-After": "2"}), _token_replies()
    )
    server.on("GET", "/v1/videos", _echo_auth)
    client = make_client(auth=_oauth(server))
    assert client.get_json("/v1/videos") == {"auth": "Bearer tok-1"}
    assert sleeps == [0.5, 2.0]


def test_token_endpoint_exhaustion_and_bad_payload(server, make_client):
    server.on("POST", "/v4/access_token", Reply(500, body="down"))
    client = make_client(auth=_oauth(server), retry=RetryPolicy(max_attempts=2))
    with pytest.raises(AuthError, match=r"POST /v4/access_token failed with HTTP 500 after 2 attempts"):
        client.get_json("/v1/videos")
    server.on("POST", "/v4/access_token", Reply(200, {"token_type": "bearer"}))
    with pytest.raises(AuthError, match="no access_token"):
        client.get_json("/v1/videos")


def test_bearer_token_and_secrets_never_leak(server, make_client, caplog):
    token = "wistia-TOKEN-abcdef123456"
    server.on("GET", "/v1/medias.json", Reply(503), Reply(403, {"error": f"token {token} lacks scope"}))
    client = make_client("wistia", auth=BearerToken(token))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as info:
        client.get_json("/v1/medias.json")
    assert token not in str(info.value) and token not in caplog.text
    assert "***" in str(info.value)
    assert all(r.headers["Authorization"] == f"Bearer {token}" for r in server.hits("/v1/medias.json"))


def test_query_api_key_sent_but_never_logged(server, make_client, caplog):
    server.on(
        "GET",
        "/3/movie/1",
        Reply(500, {"status_message": f"failed for api_key={API_KEY}"}),
        Reply(400, body=f"bad request GET /3/movie/1?api_key={API_KEY}&page=1"),
    )
    client = make_client("tmdb", auth=QueryParamKey("api_key", API_KEY))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ApiError) as info:
        client.get_json("/3/movie/1", params={"page": 1})
    assert all(r.query["api_key"] == [API_KEY] for r in server.hits("/3/movie/1"))
    assert API_KEY not in str(info.value)
    assert API_KEY not in caplog.text
    assert "api_key" not in caplog.text


def test_connection_error_does_not_leak_query(make_client, closed_port, caplog):
    client = make_client(
        "tmdb",
        base_url=f"http://127.0.0.1:{closed_port}",
        auth=QueryParamKey("api_key", API_KEY),
        retry=RetryPolicy(max_attempts=2),
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ApiError) as info:
        client.get_json("/3/movie/1")
    assert API_KEY not in str(info.value) and API_KEY not in caplog.text


def test_redact_helper():
    text = f'key={API_KEY} enc=tmdb-key-0123456789 url=https://x/?client_secret=other&a=1 {{"token": "zzz"}}'
    out = redact(text, [API_KEY, None, ""])
    assert API_KEY not in out
    assert "other" not in out and "zzz" not in out
    assert "a=1" in out
    assert redact("plain text", []) == "plain text"
    assert redact("a b%2Fc", ["b/c"]) == "a ***"


def test_auth_reprs_hide_secrets(server):
    for auth in (BearerToken(SECRET), QueryParamKey("api_key", SECRET), _oauth(server)):
        assert SECRET not in repr(auth)
