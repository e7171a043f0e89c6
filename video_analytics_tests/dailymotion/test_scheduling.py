"""The sensor's policy, pure: a fake report API and an explicit clock."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from video_analytics.dailymotion import scheduling as sch
from video_analytics.dailymotion.client import AskResult, ReportState

DAY = date(2024, 3, 1)


class FakeApi:
    """Reports finish when the test says so; a third concurrent report is refused like the vendor."""

    def __init__(self, cap: int = 2) -> None:
        self.cap = cap
        self.reports: dict[str, dict] = {}
        self.asked: list[tuple[str, str]] = []
        self.polls = 0
        self.refuse_next: str | None = None

    def ask_reports(self, specs):
        out = []
        for spec in specs:
            running = sum(r["status"] == "IN_PROGRESS" for r in self.reports.values())
            if self.refuse_next:
                out.append(AskResult(spec, error=self.refuse_next))
                self.refuse_next = None
                continue
            if running >= self.cap:
                out.append(AskResult(spec, error="Too many reports in progress"))
                continue
            token = f"tok{len(self.reports):04d}" + "x" * 20
            self.reports[token] = {"status": "IN_PROGRESS", "span": (spec.start, spec.end)}
            self.asked.append((spec.start.isoformat(), spec.end.isoformat()))
            out.append(AskResult(spec, token=token))
        return out

    def report_states(self, tokens):
        self.polls += 1
        return {
            t: ReportState(
                t,
                self.reports[t]["status"],
                (f"https://dl/{t}/0.csv",) if self.reports[t]["status"] == "FINISHED" else (),
            )
            for t in tokens
        }

    def finish_all(self, status: str = "FINISHED") -> None:
        for report in self.reports.values():
            if report["status"] == "IN_PROGRESS":
                report["status"] = status


def inputs(now: float = 1000.0, materialized=(), requests=(), runs=None, last=DAY) -> sch.TickInputs:
    return sch.TickInputs(
        now=now,
        last_day=last,
        first_day=date(2023, 1, 1),
        materialized=frozenset(materialized),
        new_requests=list(requests),
        run_status=runs or {},
    )


CONFIG = sch.SchedulerConfig(
    lookback_days=0, max_range_days=3, poll_initial=10, poll_max=40, failure_backoff=100
)


def days(start: str, n: int) -> list[str]:
    first = date.fromisoformat(start)
    return [(first + timedelta(days=i)).isoformat() for i in range(n)]


def test_group_days_splits_at_gaps_and_max_length():
    picked = [date(2024, 1, d) for d in (1, 2, 3, 4, 5, 7, 8, 20)]
    assert sch.group_days(picked, 3) == [
        (date(2024, 1, 1), date(2024, 1, 3)),
        (date(2024, 1, 4), date(2024, 1, 5)),
        (date(2024, 1, 7), date(2024, 1, 8)),
        (date(2024, 1, 20), date(2024, 1, 20)),
    ]


def test_requested_range_is_served_in_groups_two_at_a_time_and_each_report_fires_once():
    api, state = FakeApi(), sch.empty_state()
    result = sch.tick(state, inputs(requests=[("2024-02-01", "2024-02-10")]), api, CONFIG)
    assert api.asked == [("2024-02-10", "2024-02-10"), ("2024-02-07", "2024-02-09")]  # newest first, cap 2
    assert len(result.state["reports"]) == 2 and not result.fired

    # Not due yet: no poll, and no third report while two generate.
    again = sch.tick(result.state, inputs(now=1005), api, CONFIG)
    assert api.polls == 0 and len(api.asked) == 2 and not again.fired

    api.finish_all()
    done = sch.tick(again.state, inputs(now=1011), api, CONFIG)
    assert sorted((f.start, f.end) for f in done.fired) == [
        ("2024-02-07", "2024-02-09"),
        ("2024-02-10", "2024-02-10"),
    ]
    assert {f.token for f in done.fired} == set(list(api.reports)[:2])  # run key = report token
    assert api.asked[2:] == [("2024-02-04", "2024-02-06"), ("2024-02-01", "2024-02-03")]

    # The fired runs succeed and materialize their days; nothing fires twice, the rest follow.
    runs = {f.token: "SUCCESS" for f in done.fired}
    api.finish_all()
    last = sch.tick(done.state, inputs(now=1030, materialized=days("2024-02-07", 4), runs=runs), api, CONFIG)
    assert sorted((f.start, f.end) for f in last.fired) == [
        ("2024-02-01", "2024-02-03"),
        ("2024-02-04", "2024-02-06"),
    ]
    assert len(api.asked) == 4  # ceil(10 / 3) reports in all
    final = sch.tick(
        last.state,
        inputs(now=1100, materialized=days("2024-02-01", 10), runs={f.token: "SUCCESS" for f in last.fired}),
        api,
        CONFIG,
    )
    assert not final.fired and final.state["requested"] == {} and final.state["fired"] == {}


def test_cursor_round_trip_survives_a_restart_without_asking_or_firing_twice():
    api = FakeApi()
    first = sch.tick(sch.empty_state(), inputs(requests=[("2024-02-01", "2024-02-02")]), api, CONFIG)
    cursor = sch.dump_state(first.state)
    json.loads(cursor)  # plain JSON
    # The daemon restarts: the next tick starts from the stored cursor only.
    restarted = sch.tick(sch.load_state(cursor), inputs(now=1005), api, CONFIG)
    assert len(api.asked) == 1 and restarted.state["reports"] == first.state["reports"]
    api.finish_all()
    fired = sch.tick(sch.load_state(sch.dump_state(restarted.state)), inputs(now=1020), api, CONFIG)
    assert len(fired.fired) == 1
    # A tick replayed from the same cursor after firing does not fire again (the report is in `fired`).
    replay = sch.tick(sch.load_state(sch.dump_state(fired.state)), inputs(now=1030), api, CONFIG)
    assert not replay.fired and len(api.asked) == 1


def test_lookback_window_asks_for_missing_days_only():
    api = FakeApi()
    config = sch.SchedulerConfig(lookback_days=7, max_range_days=30)
    present = days("2024-02-24", 7)
    present.remove("2024-02-26")
    sch.tick(sch.empty_state(), inputs(materialized=present, last=date(2024, 3, 1)), api, config)
    assert api.asked == [("2024-02-26", "2024-02-26")]


def test_failed_report_is_asked_again_with_backoff_then_given_up_with_a_visible_alert():
    api, config = (
        FakeApi(),
        sch.SchedulerConfig(
            lookback_days=0,
            max_range_days=5,
            max_failures=1,
            poll_initial=0,
            failure_backoff=100,
            alert_seconds=60,
        ),
    )
    state = sch.tick(sch.empty_state(), inputs(requests=[("2024-02-01", "2024-02-02")]), api, config).state
    api.finish_all("FAILED")
    first = sch.tick(state, inputs(now=1001), api, config)
    assert first.state["failures"]["2024-02-01/2024-02-02"]["count"] == 1 and len(api.asked) == 1
    waiting = sch.tick(first.state, inputs(now=1050), api, config)  # backing off: not asked yet
    assert len(api.asked) == 1
    retried = sch.tick(waiting.state, inputs(now=1102), api, config)
    assert len(api.asked) == 2
    api.finish_all("FAILED")
    gave_up = sch.tick(retried.state, inputs(now=1103), api, config)
    assert gave_up.state["given_up"] == [["2024-02-01", "2024-02-02"]] and not gave_up.alerts
    alert = sch.tick(gave_up.state, inputs(now=1110), api, config)
    assert (
        alert.alerts and "failed 2 times" in alert.alerts[0] and "2024-02-01..2024-02-02" in alert.alerts[0]
    )
    assert alert.state == gave_up.state  # a failing tick changes nothing
    quiet = sch.tick(gave_up.state, inputs(now=1200), api, config)
    assert not quiet.alerts and len(api.asked) == 2  # given up: not asked again by itself
    # A new request for those days asks again.
    sch.tick(quiet.state, inputs(now=1201, requests=[("2024-02-01", "2024-02-02")]), api, config)
    assert len(api.asked) == 3


def test_expired_report_is_asked_again_without_counting_a_failure():
    api, config = FakeApi(), sch.SchedulerConfig(lookback_days=0, poll_initial=0)
    state = sch.tick(sch.empty_state(), inputs(requests=[("2024-02-01", "2024-02-01")]), api, config).state
    api.finish_all("EXPIRED")
    after = sch.tick(state, inputs(now=1001), api, config)
    assert len(api.asked) == 2 and after.state["failures"] == {} and not after.fired


def test_busy_vendor_is_not_a_failure_and_a_refused_request_is_reported():
    api, config = FakeApi(cap=0), sch.SchedulerConfig(lookback_days=0)
    busy = sch.tick(sch.empty_state(), inputs(requests=[("2024-02-01", "2024-02-01")]), api, config)
    assert busy.state["failures"] == {} and busy.state["reports"] == {}
    assert any("busy" in line for line in busy.log)
    api.cap, api.refuse_next = 2, "Date range too long"
    refused = sch.tick(busy.state, inputs(now=1001), api, config)
    assert refused.state["failures"]["2024-02-01/2024-02-01"]["count"] == 1
    assert any("Date range too long" in line for line in refused.log)


def test_failed_run_frees_its_days_for_a_new_report():
    api, config = FakeApi(), sch.SchedulerConfig(lookback_days=0, poll_initial=0, failure_backoff=0)
    state = sch.tick(sch.empty_state(), inputs(requests=[("2024-02-01", "2024-02-01")]), api, config).state
    api.finish_all()
    fired = sch.tick(state, inputs(now=1001), api, config)
    token = fired.fired[0].token
    running = sch.tick(fired.state, inputs(now=1002, runs={token: "STARTED"}), api, config)
    assert len(api.asked) == 1  # in flight: covered
    failed = sch.tick(running.state, inputs(now=1003, runs={token: "FAILURE"}), api, config)
    assert len(api.asked) == 2 and failed.state["failures"]["2024-02-01/2024-02-01"]["count"] == 1


def test_bad_cursor_is_a_clear_error():
    with pytest.raises(ValueError, match="not JSON"):
        sch.load_state("{oops")
    with pytest.raises(ValueError, match="unknown format"):
        sch.load_state(json.dumps({"version": 99}))


def test_a_day_requested_while_its_report_generates_is_asked_again_after_that_report():
    api, config = FakeApi(), sch.SchedulerConfig(lookback_days=0, poll_initial=0)
    first = sch.tick(sch.empty_state(), inputs(requests=[("2024-02-01", "2024-02-01")]), api, config)
    # The user asks again while the first report generates: its data predates the new request.
    again = sch.tick(first.state, inputs(now=1001, requests=[("2024-02-01", "2024-02-01")]), api, config)
    api.finish_all()
    fired = sch.tick(again.state, inputs(now=1002), api, config)
    [report] = fired.fired
    done = sch.tick(
        fired.state,
        inputs(now=1003, materialized=["2024-02-01"], runs={report.token: "SUCCESS"}),
        api,
        config,
    )
    assert api.asked == [("2024-02-01", "2024-02-01")] * 2
    assert [r["start"] for r in done.state["reports"].values()] == ["2024-02-01"]
    assert list(done.state["requested"]) == ["2024-02-01"]  # until the second report is loaded


def test_a_cursor_from_before_request_times_still_loads():
    old = {**sch.empty_state(), "requested": [["2024-02-01", "2024-02-02"]]}
    state = sch.load_state(json.dumps(old))
    assert state["requested"] == {"2024-02-01": 0.0, "2024-02-02": 0.0} and state["fetched"] == {}


def test_loaded_days_are_asked_again_only_in_the_re_pull_window_or_on_request_and_the_log_says_why():
    """Loaded: 02-27 (asked before it settled, but outside the 2-day re-pull window), 02-28 (asked
    after it settled), 02-29 (asked before it settles at 09:00 on 03-01) and 02-20 (old)."""
    api, config = FakeApi(), sch.SchedulerConfig(lookback_days=2, settle_days=2, settle_hours=9)
    settled_at = datetime(2024, 3, 1, 9, tzinfo=UTC).timestamp()
    asked_at = {
        "2024-02-20": settled_at - 200 * 3600,
        "2024-02-27": settled_at - 80 * 3600,
        "2024-02-28": settled_at - 20 * 3600,
        "2024-02-29": settled_at - 8 * 3600,
    }

    def tick_at(now: float, state: dict, requests=()) -> sch.TickResult:
        ticked = inputs(now=now, materialized=asked_at, requests=requests, last=date(2024, 2, 29))
        return sch.tick(state, replace(ticked, loaded_asked_at=asked_at), api, config)

    quiet = tick_at(settled_at - 60, sch.empty_state())
    assert api.asked == [] and quiet.log == []  # all loaded, none settled since: nothing asked or said
    due = tick_at(settled_at, quiet.state, requests=[("2024-02-20", "2024-02-20")])
    assert sorted(api.asked) == [("2024-02-20", "2024-02-20"), ("2024-02-29", "2024-02-29")]
    assert [line for line in due.log if line.startswith("re-pulling")] == [
        "re-pulling 2024-02-29: loaded from a report asked before the day settled (9 h after its end, UTC; "
        "the last 2 day(s) are re-pulled once)",
        "re-pulling 2024-02-20: already loaded, asked for again",
    ]
