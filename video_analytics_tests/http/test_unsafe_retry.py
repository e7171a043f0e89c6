"""`idempotent=False`: a call that creates something is repeated only when the server cannot have acted."""

from __future__ import annotations

import pytest

from video_analytics.http import ApiError, ResponseFormatError, RetryPolicy
from video_analytics_tests.http.conftest import Reply

POLICY = RetryPolicy(max_attempts=4)


@pytest.mark.parametrize(
    "first",
    [
        Reply(200, body='{"data": {"r0": '),  # cut-off body: the server did create the report
        Reply(200, body='{"a": 1', content_length=500),  # connection dropped mid-transfer
        Reply(500, {"message": "boom"}),  # a 5xx may come after the work was done
        Reply(503, {"message": "busy"}),  # no Retry-After: nothing says the request was refused
    ],
)
def test_non_idempotent_post_is_not_repeated_after_it_may_have_been_processed(server, make_client, first):
    server.on("POST", "/graphql", first, Reply(200, {"data": {"ok": True}}))
    client = make_client(retry=POLICY)
    with pytest.raises(ApiError) as info:
        client.post_json("/graphql", json={"query": "mutation"}, idempotent=False)
    assert len(server.hits("/graphql")) == 1
    assert info.value.attempts == 1
    assert "not retried: the server may have acted on this request" in str(info.value)


def test_non_idempotent_post_is_repeated_when_the_server_refused_it(server, make_client, sleeps):
    server.on(
        "POST",
        "/graphql",
        Reply(429, {"message": "slow down"}, headers={"Retry-After": "0"}),
        Reply(503, {"message": "maintenance"}, headers={"Retry-After": "0"}),
        Reply(200, {"data": {"ok": True}}),
    )
    client = make_client(retry=POLICY)
    assert client.post_json("/graphql", json={"query": "m"}, idempotent=False) == {"data": {"ok": True}}
    assert len(server.hits("/graphql")) == 3


def test_non_idempotent_post_is_repeated_after_a_connect_error(make_client, closed_port, sleeps):
    client = make_client(base_url=f"http://127.0.0.1:{closed_port}", retry=RetryPolicy(max_attempts=3))
    with pytest.raises(ApiError) as info:
        client.post_json("/graphql", json={}, idempotent=False)
    assert "ConnectError" in str(info.value) and info.value.attempts == 3 and len(sleeps) == 2


def test_default_post_keeps_retrying_a_cut_off_body(server, make_client):
    server.on("POST", "/token", Reply(200, body='{"access'), Reply(200, {"access_token": "t"}))
    assert make_client(retry=POLICY).post_json("/token", data={"a": "b"}) == {"access_token": "t"}
    assert len(server.hits("/token")) == 2
    server.on("POST", "/token", Reply(200, body='{"access'))
    with pytest.raises(ResponseFormatError):
        make_client(retry=POLICY).post_json("/token", data={"a": "b"})
