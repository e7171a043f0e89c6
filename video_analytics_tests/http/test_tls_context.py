"""Clients share one verifying TLS context per CA setting instead of loading the CA bundle each."""

from __future__ import annotations

import ssl
from pathlib import Path

from video_analytics.http import client as http_client
from video_analytics.http.client import ApiClient, shared_ssl_context


def test_clients_share_one_verifying_context(monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    first, second = ApiClient("a", "https://a.invalid"), ApiClient("b", "https://b.invalid")
    try:
        contexts = {id(c._http._transport._pool._ssl_context) for c in (first, second)}
    finally:
        first.close()
        second.close()
    assert contexts == {id(shared_ssl_context())}
    assert shared_ssl_context().verify_mode == ssl.CERT_REQUIRED and shared_ssl_context().check_hostname


def test_a_ca_file_setting_gets_its_own_context(monkeypatch, tmp_path):
    import certifi

    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    default = shared_ssl_context()
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    try:
        assert shared_ssl_context() is not default
        assert shared_ssl_context() is shared_ssl_context()
    finally:
        http_client._SSL_CONTEXTS.pop((str(bundle), ""), None)
