"""The client against the simulator over HTTP: OAuth grants, GraphQL validation and errors, report life."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from video_analytics.dailymotion.client import DailyMotionClient, DailyMotionGraphQLError, ReportSpec
from video_analytics.http import AuthError, ResponseFormatError, RetryPolicy
from video_analytics.sandbox.dailymotion.simulator import SANDBOX_PASSWORD, SANDBOX_USERNAME

SPEC = ReportSpec(date(2024, 2, 1), date(2024, 2, 2))


def client(dm, **overrides) -> DailyMotionClient:
    env = dm.sim.env(dm.url)
    config = {"base_url": env["DM_BASE_URL"], "retry": RetryPolicy(max_attempts=3, base_delay=0.01)}
    return DailyMotionClient(env["DM_CLIENT_API"], env["DM_CLIENT_SECRET"], **{**config, **overrides})


def test_report_lifecycle_on_the_simulated_clock(dm):
    dm.knobs(report_delay=7200.0)
    with client(dm) as api:
        [asked] = api.ask_reports([SPEC])
        assert asked.token and not asked.error
        assert api.report_states([asked.token])[asked.token].status == "IN_PROGRESS"
        dm.advance(7200)
        finished = api.report_states([asked.token])[asked.token]
        assert finished.status == "FINISHED" and len(finished.links) == 1
        csv = api.download(finished.links[0])
        assert csv.splitlines()[0].startswith("hour,video_id,media_type")
        dm.advance(48 * 3600)
        assert api.report_states([asked.token])[asked.token].status == "EXPIRED"
        assert api.auth.grants[-1] == "refresh_token"  # the 300 s token died with the 48 h jump
        with pytest.raises(Exception, match="410"):
            api.download(finished.links[0])


def test_third_concurrent_report_is_refused_with_a_graphql_error(dm):
    dm.knobs(report_delay=3600.0)
    specs = [ReportSpec(date(2024, 2, d), date(2024, 2, d)) for d in (1, 2, 3)]
    with client(dm) as api:
        first, second, third = api.ask_reports(specs)  # three aliased mutations in one request
    assert first.token and second.token and third.token is None
    assert third.refused_busy and "at most 2 reports" in third.error


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ReportSpec(date(2024, 1, 1), date(2024, 2, 15)), "Date range too long: 46 days (at most 30)"),
        (ReportSpec(date(2024, 2, 2), date(2024, 2, 1)), "at least 1 day"),
        (ReportSpec(date(2024, 2, 1), date(2024, 2, 1), dimensions=("HOUR",) * 9), "Too many dimensions: 9"),
        (ReportSpec(date(2024, 2, 1), date(2024, 2, 1), metrics=("VIEWZ",)), "VIEWZ"),
        (ReportSpec(date(2024, 2, 20), date(2024, 3, 5)), "in the future"),
    ],
)
def test_invalid_reports_come_back_as_errors_with_the_vendor_message(dm, spec, message):
    with client(dm) as api:
        if spec.metrics == ("VIEWZ",):  # an unknown enum fails validation of the whole document
            with pytest.raises(DailyMotionGraphQLError, match=message):
                api.ask_reports([spec])
            return
        [result] = api.ask_reports([spec])
    assert result.token is None and message in result.error and not result.refused_busy


def test_max_range_is_a_knob(dm):
    dm.knobs(max_range_days=180)
    with client(dm) as api:
        [result] = api.ask_reports([ReportSpec(date(2023, 10, 1), date(2024, 2, 1))])
    assert result.token


def test_failed_report_status(dm):
    dm.knobs(fail_next_reports=1)
    with client(dm) as api:
        [asked] = api.ask_reports([SPEC])
        assert api.report_states([asked.token])[asked.token].status == "FAILED"
        [again] = api.ask_reports([SPEC])
        assert api.report_states([again.token])[again.token].status == "FINISHED"


def test_unknown_token_is_reported_not_found(dm):
    with client(dm) as api:
        state = api.report_states(["nope"])["nope"]
    assert state.status == "UNKNOWN" and "not found" in state.error.lower()


def test_expired_access_token_is_refreshed_with_the_refresh_token(dm):
    with client(dm) as api:
        api.ask_reports([SPEC])
        httpx.post(f"{dm.url}/_sandbox/expire_tokens")
        api.ask_reports([SPEC])
        assert api.auth.grants == ["client_credentials", "refresh_token"]
    assert dm.sim.stats.snapshot()["rejected_tokens"] == 1


def test_password_grant_and_wrong_credentials(dm):
    with client(dm, username=SANDBOX_USERNAME, password=SANDBOX_PASSWORD) as api:
        assert api.ask_reports([SPEC])[0].token
        assert api.auth.grants == ["password"]
    env = dm.sim.env(dm.url)
    wrong = DailyMotionClient(env["DM_CLIENT_API"], "wrong-secret-123", base_url=dm.url)
    with wrong as api, pytest.raises(AuthError) as caught:
        api.ask_reports([SPEC])
    assert "invalid" in str(caught.value) and "wrong-secret-123" not in str(caught.value)


def test_ask_is_retried_after_429_but_not_after_a_500_that_may_hide_a_created_report(dm):
    dm.knobs(throttle_next=1, retry_after_header="0")
    with client(dm) as api:
        assert api.ask_reports([SPEC])[0].token
        assert api.counters()["api_retries"] == 1
    dm.knobs(error_next=1)
    with client(dm) as api, pytest.raises(Exception, match=r"HTTP 500 after 1 attempt.*not retried"):
        api.ask_reports([SPEC])
    # Polling is a read: a 500 there is retried.
    dm.knobs(error_next=1)
    with client(dm) as api:
        token = next(iter(dm.sim.reports))
        assert api.report_states([token])[token].status == "FINISHED"
    dm.knobs(error_next=5)
    with client(dm) as api, pytest.raises(Exception, match="HTTP 500 after 3 attempts"):
        api.report_states([token])


def test_truncated_ask_answer_is_not_asked_again_but_a_truncated_poll_is_retried(dm):
    with client(dm) as api:
        [first] = api.ask_reports([SPEC])  # token first, so the truncation hits the GraphQL call
        dm.knobs(truncate_next=1)
        with pytest.raises(ResponseFormatError, match="not retried"):
            api.ask_reports([SPEC])
        assert dm.sim.stats.snapshot()["reports_asked"] == 2  # the vendor did create the second one
        assert dm.sim.stats.snapshot()["requests"]["graphql"] == 2  # and it was asked once only
        dm.knobs(truncate_next=1)
        assert api.report_states([first.token])[first.token].status == "FINISHED"
        assert api.counters()["api_retries"] == 1


def test_csv_format_knobs_and_several_files(dm):
    dm.knobs(header_style="upper", hour_format="space", rows_per_file=10)
    with client(dm) as api:
        [asked] = api.ask_reports([SPEC])
        state = api.report_states([asked.token])[asked.token]
        texts = [api.download(link) for link in state.links]
    assert len(state.links) > 1
    assert all(t.startswith("HOUR,VIDEO_ID") for t in texts)
    assert texts[0].splitlines()[1][:19].count(" ") == 1 and "T" not in texts[0].splitlines()[1][:19]


def test_rest_metadata_with_unknown_ids_left_out(dm):
    video = dm.sim.world.videos[0]
    playlist = dm.sim.world.playlists[0]
    with client(dm) as api:
        videos = api.metadata("video", [video["id"], "xunknown"])
        playlists = api.metadata("playlist", [playlist["id"]])
    assert set(videos) == {video["id"]}
    assert videos[video["id"]]["title"] == video["title"] and videos[video["id"]]["tags"] == video["tags"]
    assert playlists[playlist["id"]] == {"id": playlist["id"], "name": playlist["name"]}


def test_video_metadata_comes_a_hundred_ids_a_request(dm):
    known = [v["id"] for v in dm.sim.world.videos]
    wanted = [*known, *(f"xunknown{i}" for i in range(150 - len(known)))]  # 150 ids: two requests
    dm.sim.stats.reset()
    with client(dm) as api:
        found = api.metadata("video", wanted)
    assert set(found) == set(known)
    assert found[known[-1]]["title"] == dm.sim.world.by_id["video"][known[-1]]["title"]
    requests = dm.sim.stats.snapshot()["requests"]
    assert requests["rest.videos"] == 2 and "rest" not in requests
