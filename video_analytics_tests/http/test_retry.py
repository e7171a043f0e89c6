from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from video_analytics.http import ApiError, ResponseFormatError, RetryPolicy, ThrottledError, parse_retry_after
from video_analytics_tests.http.conftest import Reply


def test_backoff_grows_exponentially_and_caps(server, make_client, sleeps):
    server.on("GET", "/v1/videos", Reply(500, {"message": "boom"}))
    policy = RetryPolicy(max_attempts=8, base_delay=0.5, max_delay=10.0)
    client = make_client(retry=policy)
    with pytest.raises(ApiError) as info:
        client.get_json("/v1/videos")
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert len(server.hits("/v1/videos")) == 8
    assert info.value.attempts == 8


@pytest.mark.parametrize(("rand", "factor"), [(0.0, 0.75), (0.999999, 1.25), (0.5, 1.0)])
def test_jitter_bounds(server, make_client, sleeps, rand, factor):
    server.on("GET", "/x", Reply(502), Reply(502), Reply(200, {"ok": True}))
    client = make_client(random=lambda: rand, retry=RetryPolicy(base_delay=1.0, jitter=0.25))
    assert client.get_json("/x") == {"ok": True}
    assert sleeps == pytest.approx([1.0 * factor, 2.0 * factor], abs=1e-5)


def test_jitter_stays_within_fraction_for_random_values():
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, jitter=0.25)
    for attempt in range(1, 8):
        nominal = min(2 ** (attempt - 1), 4.0)
        for r in (0.0, 0.1, 0.37, 0.5, 0.81, 0.9999):
            assert nominal * 0.75 <= policy.backoff(attempt, r) <= nominal * 1.25


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_honoured(server, make_client, sleeps, status):
    server.on("GET", "/v1/q", Reply(status, headers={"Retry-After": "7"}), Reply(200, [1, 2]))
    client = make_client()
    assert client.get_json("/v1/q") == [1, 2]
    assert sleeps == [7.0]
    assert client.counters.throttled == 1


def test_retry_after_http_date_and_cap(server, make_client, sleeps):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server.on(
        "GET",
        "/d",
        Reply(429, headers={"Retry-After": later}),
        Reply(429, headers={"Retry-After": "3600"}),
        Reply(200, {}),
    )
    client = make_client(retry=RetryPolicy(max_delay=20.0))
    client.get_json("/d")
    assert 27 <= sleeps[0] <= 30
    assert sleeps[1] == 40.0  # capped at twice max_delay


def test_parse_retry_after_variants():
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:05 GMT", now=now) == 5.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_500_then_success(server, make_client, sleeps):
    server.on("GET", "/ok", Reply(500), Reply(503), Reply(200, {"items": [1]}))
    client = make_client()
    assert client.get_json("/ok") == {"items": [1]}
    assert sleeps == [0.5, 1.0]
    assert client.counters.snapshot()["retries"] == 2


def test_429_exhaustion_raises_throttled_error(server, make_client, sleeps):
    server.on("GET", "/v1/accounts/123/videos", Reply(429, {"message": "slow down"}))
    client = make_client("brightcove-cms", retry=RetryPolicy(max_attempts=3))
    with pytest.raises(ThrottledError) as info:
        client.get_json("/v1/accounts/123/videos", params={"limit": 100})
    err = info.value
    assert (err.status, err.endpoint, err.method, err.api) == (
        429,
        "/v1/accounts/123/videos",
        "GET",
        "brightcove-cms",
    )
    assert str(err) == (
        "brightcove-cms GET /v1/accounts/123/videos failed with HTTP 429 after 3 attempts: slow down"
    )
    assert client.counters.throttled == 3


def test_5xx_exhaustion_message(server, make_client):
    server.on("GET", "/v1/accounts/123/videos", Reply(500, body="<html>Internal   error</html>"))
    client = make_client("brightcove-cms")
    with pytest.raises(ApiError) as info:
        client.get_json("/v1/accounts/123/videos")
    assert type(info.value) is ApiError
    assert str(info.value) == (
        "brightcove-cms GET /v1/accounts/123/videos failed with HTTP 500 after 6 attempts: "
        "<html>Internal error</html>"
    )


def test_non_retryable_4xx_fails_at_once_with_vendor_message(server, make_client, sleeps):
    server.on("GET", "/3/movie/9", Reply(404, {"status_code": 34, "status_message": "Not found."}))
    client = make_client("tmdb")
    with pytest.raises(ApiError) as info:
        client.get_json("/3/movie/9", params={"language": "en"})
    assert info.value.status == 404
    assert "Not found." in str(info.value)
    assert "language" not in str(info.value)
    assert sleeps == []
    assert len(server.requests) == 1


def test_brightcove_error_list_excerpt(server, make_client):
    server.on("GET", "/e", Reply(400, [{"error_code": "BAD_VALUE", "message": "limit too large"}]))
    with pytest.raises(ApiError, match="BAD_VALUE: limit too large"):
        make_client().get_json("/e")


def test_detail_is_truncated(server, make_client):
    server.on("GET", "/long", Reply(400, body="x" * 5000))
    with pytest.raises(ApiError) as info:
        make_client().get_json("/long")
    assert len(info.value.detail) <= 300


def test_connection_refused(make_client, closed_port, sleeps):
    client = make_client(
        "wistia", base_url=f"http://127.0.0.1:{closed_port}", retry=RetryPolicy(max_attempts=3)
    )
    with pytest.raises(ApiError) as info:
        client.get_json("/v1/medias.json")
    assert info.value.status is None
    assert info.value.endpoint == "/v1/medias.json"
    assert "ConnectError" in str(info.value)
    assert "after 3 attempts" in str(info.value)
    assert len(sleeps) == 2
    assert client.counters.errors == 1


def test_truncated_json_retried_then_format_error(server, make_client, sleeps):
    server.on("GET", "/v1/stats", Reply(200, body='{"rows": [1, 2, 3'))
    client = make_client("agora", retry=RetryPolicy(max_attempts=3))
    with pytest.raises(ResponseFormatError) as info:
        client.get_json("/v1/stats", params={"day": "2024-01-01"})
    msg = str(info.value)
    assert "/v1/stats" in msg
    assert "response body is not valid JSON (truncated?)" in msg
    assert len(server.hits("/v1/stats")) == 3


def test_truncated_json_recovers(server, make_client):
    server.on("GET", "/v1/stats", Reply(200, body='{"rows": [1'), Reply(200, {"rows": [1]}))
    assert make_client().get_json("/v1/stats") == {"rows": [1]}


def test_cut_off_transfer_is_retried(server, make_client, sleeps):
    server.on("GET", "/cut", Reply(200, body='{"a": 1', content_length=500), Reply(200, {"a": 1}))
    assert make_client().get_json("/cut") == {"a": 1}
    assert len(sleeps) == 1


def test_wrong_shape(server, make_client):
    server.on("GET", "/shape", Reply(200, {"not": "a list"}))
    with pytest.raises(ResponseFormatError, match=r"/shape.*expected a JSON list, got dict"):
        make_client().get_json("/shape", expect=list)


def test_get_text_post_json_and_absolute_url(server, make_client):
    server.on("GET", "/export.csv", Reply(200, body="a,b\n1,2\n", headers={"Content-Type": "text/csv"}))
    server.on("POST", "/echo", lambda seen: Reply(200, {"got": seen.body.decode()}))
    client = make_client(base_url="http://unused.invalid")
    assert client.get_text(f"{server.url}/export.csv") == "a,b\n1,2\n"
    assert client.post_json(f"{server.url}/echo", json={"k": 1}) == {"got": '{"k":1}'}


def test_request_returns_response_and_sends_headers(server, make_client):
    server.on("GET", "/h", Reply(200, {}))
    with make_client(headers={"User-Agent": "video-analytics/test"}) as client:
        response = client.request("GET", "/h", headers={"X-Extra": "1"})
    assert response.status_code == 200
    seen = server.hits("/h")[0]
    assert seen.headers["User-Agent"] == "video-analytics/test"
    assert seen.headers["X-Extra"] == "1"


def test_counters_after_scripted_sequence(server, make_client):
    server.on("GET", "/a", Reply(429, headers={"Retry-After": "1"}), Reply(500), Reply(200, body='{"x": 1}'))
    server.on("GET", "/b", Reply(404, body="nope"))
    client = make_client()
    client.get_json("/a")
    with pytest.raises(ApiError):
        client.get_json("/b")
    snap = client.counters.snapshot()
    assert snap == {
        "requests": 4,
        "retries": 2,
        "throttled": 1,
        "errors": 1,
        "bytes_received": 2 + 2 + 8 + 4,  # "{}" "{}" '{"x": 1}' "nope"
    }
    assert client.counters.as_metadata() == {f"api_{k}": v for k, v in snap.items()}
    assert client.counters.as_metadata(prefix="tmdb_")["tmdb_requests"] == 4
    client.counters.reset()
    assert set(client.counters.snapshot().values()) == {0}


def test_retry_log_lines_name_api_path_status_and_wait(server, make_client, caplog):
    server.on("GET", "/logged", Reply(503), Reply(200, {}))
    caplog.set_level(logging.INFO, logger="video_analytics.http")
    make_client("dailymotion").get_json("/logged", params={"page": 2})
    (record,) = [r for r in caplog.records if r.name.startswith("video_analytics.http")]
    message = record.getMessage()
    assert "dailymotion GET /logged" in message
    assert "HTTP 503" in message
    assert "0.50s" in message
    assert "page" not in message


def test_api_error_pickles():
    import pickle

    err = ThrottledError("tmdb", "GET", "/3/x", status=429, detail="slow", attempts=6)
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is ThrottledError and str(copy) == str(err)
