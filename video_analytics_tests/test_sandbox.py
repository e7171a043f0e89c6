"""The sandbox harness: server lifecycle, env vars, determinism, fault knobs and the admin endpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from video_analytics.sandbox import Faults, Sandbox, SimulatorServer
from video_analytics.sandbox.brightcove.simulator import BrightcoveKnobs
from video_analytics.sandbox.registry import SANDBOX_SOURCES

TODAY = date(2025, 6, 15)
ACCOUNT = "4413047246001"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(today=TODAY, scale="test") as sb:
        yield sb


@pytest.fixture
def api(sandbox):
    """Client with a token; every knob is restored afterwards so tests stay independent."""
    sim = sandbox.brightcove
    sim.knobs = BrightcoveKnobs(rate_limit_enabled=False)
    env = sandbox.env()
    client = httpx.Client(timeout=30)
    creds = (env["BRIGHTCOVE_CLIENT_ID"], env["BRIGHTCOVE_CLIENT_SECRET"])
    token = client.post(
        f"{env['BRIGHTCOVE_OAUTH_URL']}/access_token", auth=creds, data={"grant_type": "client_credentials"}
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    yield client, env, sandbox.url("brightcove")
    sim.faults.update(**Faults().snapshot())
    client.close()


def _videos(client: httpx.Client, env: dict[str, str]) -> httpx.Response:
    return client.get(f"{env['BRIGHTCOVE_CMS_URL']}/accounts/{ACCOUNT}/videos", params={"limit": 5})


def _data(client: httpx.Client, env: dict[str, str], **params) -> httpx.Response:
    params = {"accounts": ACCOUNT, "dimensions": "video", "sort": "video", "from": "2025-01-01", **params}
    return client.get(f"{env['BRIGHTCOVE_ANALYTICS_URL']}/data", params={**params, "to": "2025-05-31"})


def test_simulator_server_lifecycle():
    app = Starlette(routes=[Route("/ping", lambda request: PlainTextResponse("pong"))])
    with SimulatorServer(app) as server:
        assert server.port > 0
        assert httpx.get(f"{server.base_url}/ping").text == "pong"
        url = server.base_url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/ping", timeout=1)


def test_env_points_clients_at_the_sandbox(sandbox):
    env = sandbox.env()
    assert set(sandbox.simulators) == {s.name for s in SANDBOX_SOURCES if s.simulator is not None}
    assert all(sandbox.url(name).startswith("http://127.0.0.1:") for name in sandbox.simulators)
    base = sandbox.url("brightcove")
    assert env["BRIGHTCOVE_OAUTH_URL"].startswith(base) and env["BRIGHTCOVE_CMS_URL"].startswith(base)
    assert env["BRIGHTCOVE_ANALYTICS_URL"].startswith(base)
    assert env["BRIGHTCOVE_CLIENT_ID"] and env["BRIGHTCOVE_CLIENT_SECRET"]
    assert json.loads(env["BRIGHTCOVE_ACCOUNTS"])["intranet"] == ACCOUNT
    assert sandbox.brightcove.world.today == TODAY


def test_same_seed_gives_same_world(api, sandbox):
    client, env, _ = api
    with Sandbox(today=TODAY, scale="test") as twin:
        twin.brightcove.knobs = BrightcoveKnobs(rate_limit_enabled=False)
        other_env = twin.env()
        creds = (other_env["BRIGHTCOVE_CLIENT_ID"], other_env["BRIGHTCOVE_CLIENT_SECRET"])
        token = httpx.post(
            f"{other_env['BRIGHTCOVE_OAUTH_URL']}/access_token",
            auth=creds,
            data={"grant_type": "client_credentials"},
        ).json()["access_token"]
        other = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert _videos(client, env).json() == _videos(other, other_env).json()
        assert _data(client, env, limit="all").json() == _data(other, other_env, limit="all").json()
    with Sandbox(today=TODAY, scale="test", seed=99) as different:
        assert (
            different.brightcove.world.catalogs[ACCOUNT].videos
            != sandbox.brightcove.world.catalogs[ACCOUNT].videos
        )


def test_error_next_and_error_rate(api, sandbox):
    client, env, _ = api
    sandbox.brightcove.faults.update(error_next=2)
    assert [_videos(client, env).status_code for _ in range(3)] == [500, 500, 200]
    sandbox.brightcove.faults.update(error_next=1)
    body = _data(client, env).json()
    assert body[0]["error_code"] == "SERVER_ERROR" and body[0]["request_id"]
    sandbox.brightcove.faults.update(error_rate=1.0)
    response = _videos(client, env)
    assert response.status_code == 500 and response.json()[0]["error_code"] == "UNKNOWN"
    sandbox.brightcove.faults.update(error_rate=0.5)
    codes = {_videos(client, env).status_code for _ in range(20)}
    assert codes == {200, 500}


def test_throttle_next_sends_retry_after(api, sandbox):
    client, env, _ = api
    sandbox.brightcove.faults.update(throttle_next=1, retry_after_header="2")
    response = _videos(client, env)
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert response.json()[0]["error_code"] == "TOO_MANY_REQUESTS"
    assert _videos(client, env).status_code == 200


def test_truncate_next_cuts_the_body(api, sandbox):
    client, env, _ = api
    sandbox.brightcove.faults.update(truncate_next=1)
    cut = _data(client, env, limit="all")
    assert cut.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)
    full = _data(client, env, limit="all")
    assert len(cut.content) == len(full.content) // 2


def test_latency_is_added(api, sandbox):
    client, env, _ = api
    sandbox.brightcove.faults.update(latency=0.3)
    started = time.monotonic()
    assert _videos(client, env).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_token_endpoint_spared_unless_asked(api, sandbox):
    _, env, _ = api
    url = f"{env['BRIGHTCOVE_OAUTH_URL']}/access_token"
    creds = (env["BRIGHTCOVE_CLIENT_ID"], env["BRIGHTCOVE_CLIENT_SECRET"])
    sandbox.brightcove.faults.update(error_rate=1.0)
    assert httpx.post(url, auth=creds, data={"grant_type": "client_credentials"}).status_code == 200
    sandbox.brightcove.faults.update(faults_on_token=True)
    assert httpx.post(url, auth=creds, data={"grant_type": "client_credentials"}).status_code == 500


def test_admin_endpoints_steer_and_count(api):
    client, env, base = api
    httpx.post(f"{base}/_sandbox/stats/reset")
    set_ = httpx.post(f"{base}/_sandbox/faults", json={"throttle_next": 1, "max_rps": 3})
    assert set_.status_code == 200 and set_.json()["throttle_next"] == 1 and set_.json()["max_rps"] == 3
    assert httpx.post(f"{base}/_sandbox/faults", json={"no_such_knob": 1}).status_code == 400
    assert _videos(client, env).status_code == 429
    assert _videos(client, env).status_code == 200
    client.post(
        f"{env['BRIGHTCOVE_OAUTH_URL']}/access_token",
        params={"grant_type": "client_credentials"},
        auth=(env["BRIGHTCOVE_CLIENT_ID"], env["BRIGHTCOVE_CLIENT_SECRET"]),
    )
    stats = httpx.get(f"{base}/_sandbox/stats").json()
    assert stats["requests"] == {"cms.videos": 2, "oauth.token": 1}
    assert stats["throttled"] == 1 and stats["tokens_issued"] == 1 and stats["status"] == {"429": 1, "200": 2}
    assert httpx.get(f"{base}/_sandbox/faults").json()["throttle_next"] == 0


def test_rejects_unknown_scale():
    with pytest.raises(ValueError, match="scale"):
        Sandbox(scale="huge")


def test_demo_scale_year_report_is_fast():
    with Sandbox(today=TODAY, scale="demo") as sb:
        env = sb.env()
        creds = (env["BRIGHTCOVE_CLIENT_ID"], env["BRIGHTCOVE_CLIENT_SECRET"])
        token = httpx.post(
            f"{env['BRIGHTCOVE_OAUTH_URL']}/access_token",
            auth=creds,
            data={"grant_type": "client_credentials"},
        ).json()["access_token"]
        largest = max(sb.brightcove.world.catalogs.values(), key=lambda c: len(c.videos))
        assert 300 <= len(largest.videos) <= 1500
        started = time.process_time()  # CPU seconds: the simulator serves from a thread of this process
        response = httpx.get(
            f"{env['BRIGHTCOVE_ANALYTICS_URL']}/data",
            params={
                "accounts": largest.account_id,
                "dimensions": "video,date,device_type",
                "limit": "all",
                "from": "2024-06-15",
                "to": "2025-06-14",
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout=300,  # bounds only a failure
        )
        assert response.status_code == 200 and response.json()["item_count"] > 50_000
        assert time.process_time() - started < 10, "a year's report costs seconds of CPU, whatever the load"


def test_cli_prints_exports():
    cmd = [sys.executable, "-m", "video_analytics.sandbox", "--today", "2025-06-15", "--scale", "test"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        lines = [proc.stdout.readline().strip() for _ in range(6)]
        assert all(line.startswith("export BRIGHTCOVE_") for line in lines)
        url = next(line for line in lines if "CMS_URL" in line).split("=", 1)[1]
        assert httpx.get(f"{url.rsplit('/cms', 1)[0]}/_sandbox/stats").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=120)  # bounds only a failure: a crowded machine takes seconds to stop it
