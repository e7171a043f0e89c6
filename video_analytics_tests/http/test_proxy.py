"""Proxy settings come from the environment (trust_env); the scripted server plays the proxy."""

from __future__ import annotations

import pytest

from video_analytics.http import ApiError, RetryPolicy
from video_analytics_tests.http.conftest import Reply


def test_http_proxy_honoured(server, make_client, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    server.on("GET", "/v1/videos", Reply(200, {"via": "proxy"}))
    client = make_client(base_url="http://vendor.invalid")
    assert client.get_json("/v1/videos") == {"via": "proxy"}
    (seen,) = server.requests
    assert seen.target == "http://vendor.invalid/v1/videos"  # absolute-form => went through the proxy


def test_https_proxy_gets_connect(server, make_client, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    server.on("CONNECT", "vendor.invalid:443", Reply(403, body="tunnel refused"))
    client = make_client(
        "brightcove-cms", base_url="https://vendor.invalid", retry=RetryPolicy(max_attempts=1)
    )
    with pytest.raises(ApiError) as info:
        client.get_json("/v1/videos")
    assert info.value.status is None
    assert info.value.endpoint == "/v1/videos"
    assert "ProxyError" in str(info.value) and "403" in str(info.value)
    assert [r.target for r in server.requests] == ["vendor.invalid:443"]


def test_no_proxy_bypasses(server, make_client, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # would fail if used
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server.on("GET", "/direct", Reply(200, {"direct": True}))
    assert make_client().get_json("/direct") == {"direct": True}
