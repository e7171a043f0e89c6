"""The Brightcove twin over real HTTP: auth, CMS paging/search, analytics reports and vendor quirks."""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import date, timedelta

import httpx
import pytest

from video_analytics.sandbox import Faults, Sandbox
from video_analytics.sandbox.brightcove.simulator import BrightcoveKnobs
from video_analytics_tests.support import wait_until

TODAY = date(2025, 6, 15)
ACCOUNT = "1197194721001"
METRICS = (
    "video,date,video_impression,play_rate,engagement_score,video_engagement_1,video_engagement_25,"
    "video_engagement_50,video_engagement_75,video_engagement_100,video_percent_viewed,video_seconds_viewed,"
    "video_view"
)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(today=TODAY, scale="test", seed=11) as sb:
        yield sb


@pytest.fixture
def bc(sandbox):
    """A token-holding client; faults and knobs are reset after each test (rate limit off unless asked)."""
    sim = sandbox.brightcove
    sim.knobs = BrightcoveKnobs(rate_limit_enabled=False)
    env = sandbox.env()
    client = httpx.Client(timeout=30)
    token = _token(client, env)
    client.headers["Authorization"] = f"Bearer {token}"
    yield Api(client, env, sim)
    sim.faults.update(**Faults(seed=11).snapshot())
    sim.clock_frozen_at, sim.clock_skew = None, 0.0
    client.close()


class Api:
    def __init__(self, client: httpx.Client, env: dict[str, str], sim) -> None:
        self.client, self.env, self.sim = client, env, sim

    def cms(self, path: str, **params) -> httpx.Response:
        return self.client.get(f"{self.env['BRIGHTCOVE_CMS_URL']}/accounts/{ACCOUNT}{path}", params=params)

    def data(self, **params) -> httpx.Response:
        params.setdefault("accounts", ACCOUNT)
        return self.client.get(f"{self.env['BRIGHTCOVE_ANALYTICS_URL']}/data", params=params)


def _token(client: httpx.Client, env: dict[str, str]) -> str:
    auth = (env["BRIGHTCOVE_CLIENT_ID"], env["BRIGHTCOVE_CLIENT_SECRET"])
    response = client.post(
        f"{env['BRIGHTCOVE_OAUTH_URL']}/access_token", auth=auth, data={"grant_type": "client_credentials"}
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _all_videos(bc: Api, limit: int = 7, **params) -> list[dict]:
    videos, offset = [], 0
    while True:
        page = bc.cms("/videos", limit=limit, offset=offset, **params).json()
        if not page:
            return videos
        videos += page
        offset += limit


# -- OAuth ------------------------------------------------------------------------------------------


def test_token_response_and_bad_credentials(bc):
    url = f"{bc.env['BRIGHTCOVE_OAUTH_URL']}/access_token"
    creds = (bc.env["BRIGHTCOVE_CLIENT_ID"], bc.env["BRIGHTCOVE_CLIENT_SECRET"])
    ok = httpx.post(url, auth=creds, params={"grant_type": "client_credentials"})
    assert ok.status_code == 200
    assert set(ok.json()) == {"access_token", "token_type", "expires_in"}
    assert ok.json()["token_type"] == "Bearer" and ok.json()["expires_in"] == 300
    form = httpx.post(
        url, data={"grant_type": "client_credentials", "client_id": creds[0], "client_secret": creds[1]}
    )
    assert form.status_code == 200
    bad = httpx.post(url, auth=(creds[0], "wrong"), data={"grant_type": "client_credentials"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert httpx.post(url, auth=creds, data={"grant_type": "password"}).status_code == 400


def test_api_requires_valid_token(bc):
    response = httpx.get(f"{bc.env['BRIGHTCOVE_CMS_URL']}/accounts/{ACCOUNT}/videos")
    assert response.status_code == 401
    assert response.json() == [{"error_code": "UNAUTHORIZED", "message": "Permission denied."}]
    bogus = httpx.get(
        f"{bc.env['BRIGHTCOVE_CMS_URL']}/accounts/{ACCOUNT}/videos", headers={"Authorization": "Bearer x"}
    )
    assert bogus.status_code == 401


def test_token_expires_by_ttl_and_by_admin(bc):
    bc.sim.freeze_clock()
    bc.sim.faults.update(token_ttl=30)
    short = _token(bc.client, bc.env)
    headers = {"Authorization": f"Bearer {short}"}
    url = f"{bc.env['BRIGHTCOVE_CMS_URL']}/accounts/{ACCOUNT}/counts/videos"
    bc.sim.advance(29)
    assert httpx.get(url, headers=headers).status_code == 200
    bc.sim.advance(2)
    assert httpx.get(url, headers=headers).status_code == 401
    assert bc.cms("/counts/videos").status_code == 200
    base = bc.env["BRIGHTCOVE_OAUTH_URL"].rsplit("/oauth", 1)[0]
    assert httpx.post(f"{base}/_sandbox/expire_tokens").json()["expired"] >= 1
    assert bc.cms("/counts/videos").status_code == 401


# -- CMS --------------------------------------------------------------------------------------------


def test_cms_paging_matches_count_and_video_shape(bc):
    count = bc.cms("/counts/videos").json()["count"]
    videos = _all_videos(bc, sort="created_at")
    assert 20 <= count <= 60 and len(videos) == count
    assert len({v["id"] for v in videos}) == count
    assert [v["created_at"] for v in videos] == sorted(v["created_at"] for v in videos)
    stamp = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
    custom = {"video_content_type", "video_length", "video_category", "country", "language", "business_unit"}
    for video in videos:
        assert video["id"].isdigit() and len(video["id"]) in (13, 19)
        assert stamp.match(video["created_at"]) and stamp.match(video["updated_at"])
        assert video["published_at"] is None or stamp.match(video["published_at"])
        assert video["created_at"] <= video["updated_at"] <= f"{TODAY}T23:59:59.999Z"
        assert isinstance(video["duration"], int) and video["state"] in {"ACTIVE", "INACTIVE", "PENDING"}
        assert set(video["custom_fields"]) <= custom and None not in video["custom_fields"].values()
        assert video["created_by"]["type"] in {"user", "api_key", "unknown"}
    assert bc.cms("/videos").json() == bc.cms("/videos", sort="-updated_at").json()
    assert len(bc.cms("/videos").json()) == 20


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 101}, "BAD_VALUE"),
        ({"limit": 0}, "BAD_VALUE"),
        ({"sort": "duration"}, "INVALID_SORT"),
        ({"q": "colour:blue"}, "INVALID_SEARCH"),
        ({"q": "created_at:yesterday..tomorrow"}, "INVALID_SEARCH"),
    ],
)
def test_cms_bad_requests(bc, params, code):
    response = bc.cms("/videos", **params)
    assert response.status_code == 400 and response.json()[0]["error_code"] == code


def test_cms_unknown_account_is_404(bc):
    response = bc.client.get(f"{bc.env['BRIGHTCOVE_CMS_URL']}/accounts/999/videos")
    assert response.status_code == 404 and response.json()[0]["error_code"] == "RESOURCE_NOT_FOUND"


def test_cms_search_filters_and_counts_agree(bc):
    everything = _all_videos(bc, limit=100)
    queries = {
        "+state:ACTIVE": lambda v: v["state"] == "ACTIVE",
        "+created_at:2024-01-01..2024-12-31": lambda v: v["created_at"][:4] == "2024",
        "+state:ACTIVE +created_at:2023-01-01..": lambda v: (
            v["state"] == "ACTIVE" and v["created_at"] >= "2023"
        ),
        "+updated_at:..2023-06-30T23:59:59Z": lambda v: v["updated_at"] < "2023-07",
        "-state:ACTIVE": lambda v: v["state"] != "ACTIVE",
        "+published_at:2022-01-01..2030-01-01": lambda v: v["published_at"] is not None,
        "tags:markets,esg": lambda v: bool({"markets", "esg"} & set(v["tags"])),
    }
    for q, keep in queries.items():
        expected = {v["id"] for v in everything if keep(v)}
        listed = _all_videos(bc, limit=100, q=q)
        assert {v["id"] for v in listed} == expected, q
        assert bc.cms("/counts/videos", q=q).json() == {"count": len(expected)}, q
    name_word = everything[0]["name"].split()[0]
    assert all(
        name_word.lower() in v["name"].lower() for v in _all_videos(bc, limit=100, q=f"+name:{name_word}")
    )


def test_cms_videos_by_ids(bc):
    videos = bc.cms("/videos", limit=12).json()
    ids = [v["id"] for v in videos]
    assert bc.cms(f"/videos/{ids[0]}").json()["id"] == ids[0]
    assert [v["id"] for v in bc.cms(f"/videos/{ids[0]},{ids[1]}").json()] == ids[:2]
    too_many = bc.cms(f"/videos/{','.join(ids[:11])}")
    assert too_many.status_code == 400 and too_many.json()[0]["error_code"] == "ILLEGAL_PATH"
    with_ref = next((v for v in _all_videos(bc, limit=100) if v["reference_id"]), None)
    assert with_ref and bc.cms(f"/videos/ref:{with_ref['reference_id']}").json()["id"] == with_ref["id"]


def test_cms_rate_limit(bc):
    bc.sim.freeze_clock()
    bc.sim.knobs.rate_limit_enabled = True
    codes = [bc.cms("/counts/videos").status_code for _ in range(14)]
    assert codes == [200] * 10 + [429] * 4
    assert bc.cms("/counts/videos").json()[0]["error_code"] == "TOO_MANY_REQUESTS"
    bc.sim.advance(1.01)
    assert bc.cms("/counts/videos").status_code == 200


# -- Analytics --------------------------------------------------------------------------------------

OLD = {"from": "2025-03-01", "to": "2025-04-30"}


def test_analytics_envelope_defaults_and_totals(bc):
    default = bc.data(dimensions="video,date", **OLD).json()
    assert set(default) == {"item_count", "items", "summary"}
    assert len(default["items"]) == 10 and default["item_count"] > 100
    assert set(default["items"][0]) == {"video", "date", "video_view"}
    views = [i["video_view"] for i in default["items"]]
    assert views == sorted(views)  # default sort is video_view ascending
    full = bc.data(dimensions="video,date", fields=METRICS, limit="all", **OLD).json()
    items = full["items"]
    assert len(items) == full["item_count"] == default["item_count"]
    assert full["summary"]["video_view"] == sum(i["video_view"] for i in items)
    assert full["summary"]["video_impression"] == sum(i["video_impression"] for i in items)
    assert all(OLD["from"] <= i["date"] <= OLD["to"] and i["video_view"] > 0 for i in items)
    for i in items:
        assert i["video_impression"] >= i["video_view"] and i["play_rate"] == pytest.approx(
            i["video_view"] / i["video_impression"], abs=1e-5
        )
        curve = [i[f"video_engagement_{p}"] for p in (1, 25, 50, 75, 100)]
        assert curve == sorted(curve, reverse=True) and curve[-1] >= 0 and curve[0] <= 100
        assert 0 < i["video_percent_viewed"] <= 100 * 1.06 * i["video_view"]


def test_rows_only_after_creation_and_by_video_dimension(bc):
    created = {v["id"]: v["created_at"][:10] for v in _all_videos(bc, limit=100)}
    items = bc.data(dimensions="video,date", limit="all", **OLD).json()["items"]
    assert all(i["date"] >= created[i["video"]] for i in items)
    per_video = Counter()
    for i in items:
        per_video[i["video"]] += i["video_view"]
    report = bc.data(
        dimensions="video", fields="video,video.name,video_view,video_duration", limit="all", **OLD
    )
    assert {i["video"]: i["video_view"] for i in report.json()["items"]} == dict(per_video)
    by_date = bc.data(dimensions="date", limit="all", **OLD).json()
    assert by_date["summary"]["video_view"] == sum(per_video.values())


def test_device_views_sum_to_video_views(bc):
    views = bc.data(dimensions="video,date", limit="all", **OLD).json()["items"]
    devices = bc.data(dimensions="video,date,device_type", limit="all", **OLD).json()["items"]
    summed = Counter()
    for d in devices:
        assert d["device_type"] in {"desktop", "mobile", "tablet", "tv", "other"} and d["video_view"] > 0
        summed[(d["video"], d["date"])] += d["video_view"]
    assert summed == Counter({(i["video"], i["date"]): i["video_view"] for i in views})


def test_where_filters(bc):
    one = bc.data(dimensions="video,date", limit=1, sort="-video_view", **OLD).json()["items"][0]["video"]
    items = bc.data(dimensions="video,date", where=f"video=={one}", limit="all", **OLD).json()["items"]
    assert items and {i["video"] for i in items} == {one}
    mobile = bc.data(
        dimensions="video,date,device_type", where=f"video=={one};device_type==mobile", limit="all", **OLD
    )
    assert {i["device_type"] for i in mobile.json()["items"]} <= {"mobile"}


def test_tied_rows_shuffle_but_unique_sort_is_stable(bc):
    params = {"dimensions": "video,date", **OLD}
    total = bc.data(limit=1, **params).json()["item_count"]
    seen = []
    for offset in range(0, total, 25):
        seen += [(i["video"], i["date"]) for i in bc.data(limit=25, offset=offset, **params).json()["items"]]
    assert len(seen) == total and len(set(seen)) < total  # duplicates (and so skips) across naive pages
    unique = {"dimensions": "video", "sort": "video", **OLD}
    first = [i["video"] for i in bc.data(limit="all", **unique).json()["items"]]
    paged = []
    for offset in range(0, len(first), 7):
        paged += [i["video"] for i in bc.data(limit=7, offset=offset, **unique).json()["items"]]
    assert paged == first == sorted(first)
    day = {"dimensions": "video,date", "sort": "-video", "from": "2025-04-01", "to": "2025-04-01"}
    assert bc.data(limit="all", **day).json() == bc.data(limit="all", **day).json()


def test_identical_inflight_query_gets_429(bc):
    bc.sim.faults.update(latency=2.0)  # the first query stays in flight while the second arrives
    results: list[httpx.Response] = []

    def call() -> None:
        results.append(bc.data(dimensions="video", **OLD))

    first, second = (threading.Thread(target=call) for _ in range(2))
    first.start()
    wait_until(lambda: bc.sim._inflight, "the first query to be in flight")
    second.start()
    for t in (first, second):
        t.join()
    assert sorted(r.status_code for r in results) == [200, 429]
    body = next(r for r in results if r.status_code == 429).json()[0]
    assert (
        body["error_code"] == "TOO_MANY_REQUESTS" and "same query" in body["message"] and body["request_id"]
    )


def test_provisional_days_change_but_old_days_do_not(bc):
    recent = {"dimensions": "video,date", "limit": "all", "from": str(TODAY - timedelta(days=2)), "to": "now"}
    first = bc.data(**recent).json()
    later = [bc.data(**recent).json() for _ in range(4)]
    assert any(report["items"] != first["items"] for report in later)
    old = {
        "dimensions": "video,date",
        "limit": "all",
        "sort": "video",
        "from": "2025-04-01",
        "to": "2025-04-01",
    }
    assert bc.data(**old).json() == bc.data(**old).json()


def test_dates_are_bounded_by_today_and_history(bc):
    future = bc.data(dimensions="date", limit="all", **{"from": str(TODAY), "to": "2026-01-01"}).json()
    assert [i["date"] for i in future["items"]] == [str(TODAY)]
    before = bc.data(dimensions="date", **{"from": "2019-01-01", "to": "2019-12-31"}).json()
    assert before["item_count"] == 0 and before["items"] == []
    relative = bc.data(dimensions="date", limit="all", **{"from": "-6d"}).json()["items"]
    assert min(i["date"] for i in relative) >= str(TODAY - timedelta(days=6))
    default = bc.data(dimensions="date", limit="all").json()["items"]
    assert min(i["date"] for i in default) >= str(TODAY - timedelta(days=32))


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"dimensions": "video,country"}, "UNSUPPORTED_FIELD_COMBINATION_ERROR"),
        ({"dimensions": "video", "fields": "video,video_views"}, "BAD_REQUEST"),
        ({"dimensions": "video", "fields": "video,date"}, "BAD_REQUEST"),
        ({"dimensions": "video", "where": "device_type==mobile"}, "BAD_REQUEST"),
        ({"dimensions": "video", "from": "2025-05-01", "to": "2025-04-01"}, "BAD_REQUEST"),
        ({"dimensions": "video", "sort": "video_impression"}, "BAD_REQUEST"),
        ({"dimensions": "video", "limit": "lots"}, "BAD_REQUEST"),
        ({}, "BAD_REQUEST"),
    ],
)
def test_analytics_bad_requests(bc, params, code):
    response = bc.data(**params)
    assert response.status_code == 400
    assert response.json()[0]["error_code"] == code and response.json()[0]["request_id"]


def test_status_endpoint(bc):
    url = f"{bc.env['BRIGHTCOVE_ANALYTICS_URL']}/data/status"
    body = bc.client.get(url, params={"accounts": ACCOUNT, "dimensions": "video"}).json()
    assert body == {"reconciled_from": "2022-01-01", "reconciled_to": str(TODAY - timedelta(days=3))}


def test_multiple_accounts(bc):
    accounts = list(bc.sim.world.accounts.values())[:2]
    both = bc.data(accounts=",".join(accounts), dimensions="date", limit="all", **OLD).json()
    single = [bc.data(accounts=a, dimensions="date", limit="all", **OLD).json() for a in accounts]
    assert both["summary"]["video_view"] == sum(s["summary"]["video_view"] for s in single)
