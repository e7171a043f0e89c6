"""Clients share one verifying TLS context instead of loading the CA bundle each."""

from __future__ import annotations

import ssl

from video_analytics.http.client import ApiClient, shared_ssl_context


def test_clients_share_one_verifying_context():
    first, second = ApiClient("a", "https://a.invalid"), ApiClient("b", "https://b.invalid")
    try:
        contexts = {id(c._http._transport._pool._ssl_context) for c in (first, second)}
    finally:
        first.close()
        second.close()
    assert contexts == {id(shared_ssl_context())}
    assert shared_ssl_context().verify_mode == ssl.CERT_REQUIRED and shared_ssl_context().check_hostname
