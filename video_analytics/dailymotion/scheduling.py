"""The report scheduler behind `dailymotion_reports_sensor`: pure logic over a JSON-able state.

One `tick()` does, in order: show pending alerts (a report given up), forget runs that finished,
poll the reports that are due, turn FINISHED reports into run requests, and ask for new reports for
the wanted days that nothing covers yet. Wanted are: missing days of the look-back window, every day a
user requested (even one already materialized: a request means "fetch it again"), and the last
`settle_days` days once more after they settled (`settle_hours` past their end; the original re-pulled
the last 2 days every morning at 09:01, because a day fetched just after midnight is incomplete).
All inputs (clock, materialized partitions, requested ranges, run outcomes, the API) are passed in, so
the whole policy is tested without Dagster or HTTP.

The state is the sensor cursor. It is only replaced when a tick ends normally, so a daemon restart
resumes from the last completed tick: reports are never lost (their tokens are in `reports`), never
asked twice (their days stay covered while generating), and a FINISHED report becomes exactly one
run request (run key = report token; Dagster also refuses a second run with the same key).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from video_analytics.dailymotion.client import (
    DEFAULT_DIMENSIONS,
    DEFAULT_METRICS,
    AskResult,
    ReportSpec,
    ReportState,
)
from video_analytics.http import ApiError

STATE_VERSION = 1
FIRED_GRACE = 600.0  # a fired run still absent from run storage after this long: ask the API again
TERMINAL_FAILURES = ("FAILURE", "CANCELED")


@dataclass(frozen=True)
class SchedulerConfig:
    lookback_days: int = 7
    max_range_days: int = 30
    max_reports: int = 2
    poll_initial: float = 60.0
    poll_max: float = 900.0
    max_failures: int = 3
    failure_backoff: float = 600.0
    alert_seconds: float = 300.0
    settle_days: int = 2
    settle_hours: float = 9.0
    metrics: tuple[str, ...] = DEFAULT_METRICS
    dimensions: tuple[str, ...] = DEFAULT_DIMENSIONS


class ReportApi(Protocol):
    def ask_reports(self, specs: Sequence[ReportSpec]) -> list[AskResult]: ...

    def report_states(self, tokens: Sequence[str]) -> dict[str, ReportState]: ...


@dataclass(frozen=True)
class TickInputs:
    now: float
    last_day: date  # the newest partition (yesterday, UTC)
    first_day: date  # the oldest partition
    materialized: frozenset[str]
    new_requests: Sequence[tuple[str, str]] = ()
    run_status: Mapping[str, str] = field(default_factory=dict)  # report token -> Dagster run status
    request_runs: Mapping[str, str] = field(default_factory=dict)  # day -> run that asked for it
    loaded_asked_at: Mapping[str, float] = field(default_factory=dict)  # day -> its data's report asked at


@dataclass(frozen=True)
class FiredReport:
    token: str
    start: str
    end: str
    links: tuple[str, ...]
    asked_at: float = 0.0
    request_run: str | None = None  # the run that asked for these days (dm_report_requests), if any


@dataclass
class TickResult:
    state: dict[str, Any]
    fired: list[FiredReport] = field(default_factory=list)
    asked: list[tuple[str, str, str]] = field(default_factory=list)  # (token, start, end) asked now
    alerts: list[str] = field(default_factory=list)  # raise these: the tick fails visibly
    log: list[str] = field(default_factory=list)
    journal: Callable[[Mapping[str, Any]], None] | None = None

    def save(self) -> None:
        if self.journal is not None:
            self.journal(self.state)

    def summary(self) -> str:
        text = (
            f"{len(self.state['reports'])} report(s) generating, "
            f"{len(self.state['fired'])} run(s) in flight, "
            f"{len(self.fired)} fired now, {len(self.state['requested'])} requested day(s) pending"
        )
        given_up = given_up_message(self.state)
        return f"{text}. {given_up}" if given_up else text


def given_up_message(state: Mapping[str, Any]) -> str:
    """Shown on every tick until a user asks for these days again, so they cannot go unnoticed."""
    ranges = state["given_up"]
    if not ranges:
        return ""
    spans = ", ".join(f"{a}..{b}" for a, b in ranges[:5]) + (" ..." if len(ranges) > 5 else "")
    return (
        f"GIVEN UP: {_count_days(ranges)} day(s) ({spans}) after repeated report failures; "
        "materialize dm_report_requests for them to ask again"
    )


def empty_state() -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "seq": 0,  # bumped every tick: the newer of the cursor and the journal wins
        "asking": [],  # [[start, end], ...] while an ask is on the wire (journaled; see `_ask`)
        "request_runs": {},  # day -> run id of the request that asked for it (a tag on its load run)
        "request_cursor": None,  # storage id of the last dm_report_requests materialization read
        "observation_cursor": None,  # storage id of the last request observation on dm_hourly_reports
        "requested": {},  # day -> when a user asked for it; until a report asked after that is loaded
        "reports": {},  # token -> {start, end, asked_at, next_poll, polls}
        "fired": {},  # token -> {start, end, asked_at, fired_at}
        "fetched": {},  # day -> when the report behind its data was asked (recent days only; settle rule)
        "failures": {},  # "start/end" -> {count, retry_at}
        "given_up": [],  # [[start, end], ...] not asked again automatically
        "alerts": [],  # [{message, until}]
    }


def load_state(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return empty_state()
    try:
        state = json.loads(cursor)
    except json.JSONDecodeError as exc:
        raise ValueError(f"dailymotion sensor cursor is not JSON: {exc.msg}") from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise ValueError("dailymotion sensor cursor has an unknown format; reset the sensor's cursor")
    if isinstance(state.get("requested"), list):  # cursors written before requests carried a time
        state["requested"] = {d.isoformat(): 0.0 for d in _expand(state["requested"])}
    return {**empty_state(), **state}


def dump_state(state: Mapping[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"))


# -- day ranges ------------------------------------------------------------------------------------


def days_of(start: str, end: str) -> list[date]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def group_days(days: Iterable[date], max_len: int) -> list[tuple[date, date]]:
    """Consecutive days grouped into ranges of at most `max_len` days, oldest first."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + timedelta(days=1) and (day - ranges[-1][0]).days < max_len:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _as_ranges(days: Iterable[date]) -> list[list[str]]:
    return [[a.isoformat(), b.isoformat()] for a, b in group_days(days, 10**6)]


def _expand(ranges: Iterable[Sequence[str]]) -> set[date]:
    return {d for start, end in ranges for d in days_of(start, end)}


def _count_days(ranges: Iterable[Sequence[str]]) -> int:
    return len(_expand(ranges))


# -- the tick --------------------------------------------------------------------------------------


def tick(
    state: Mapping[str, Any],
    inputs: TickInputs,
    api: ReportApi,
    config: SchedulerConfig,
    journal: Callable[[Mapping[str, Any]], None] | None = None,
) -> TickResult:
    """One sensor tick. `journal` saves the state durably around each ask (the cursor is only saved
    when the tick ends, so a crash in between would otherwise forget reports DailyMotion created)."""
    result = TickResult(copy.deepcopy(dict(state)))
    result.journal = journal
    st, now = result.state, inputs.now
    active = [a for a in st["alerts"] if a["until"] > now]
    if active:
        result.alerts = [a["message"] for a in active]
        return result  # nothing else this tick: a failing tick cannot save its cursor
    st["alerts"] = []
    st["seq"] = st.get("seq", 0) + 1
    _recover_interrupted_ask(result, inputs, config)
    _record_requests(st, inputs)
    _settle_runs(result, inputs, config)
    _poll(result, inputs, api, config)
    _ask(result, inputs, api, config)
    if st["given_up"]:
        result.log.append(given_up_message(st))
    return result


def _recover_interrupted_ask(result: TickResult, inputs: TickInputs, config: SchedulerConfig) -> None:
    """The sensor died while asking: DailyMotion may have created those reports (it has no call to
    list them), so they are not asked again at once; they back off like a lost answer, and the
    orphans, if any, hold DailyMotion's slots until they finish (later asks are refused as busy)."""
    for start, end in result.state.get("asking") or []:
        why = "the sensor stopped while asking DailyMotion (the report may exist and hold a slot)"
        _failed(result, start, end, why, inputs.now, config)
    result.state["asking"] = []


def _record_requests(st: dict[str, Any], inputs: TickInputs) -> None:
    asked_again = _expand(inputs.new_requests)
    st["given_up"] = _as_ranges(_expand(st["given_up"]) - asked_again)  # a new request retries them
    # Kept until a report asked after the request is loaded, materialized or not: asking again for a
    # day is how a user re-fetches it, and a report already generating for it may hold older data.
    requested = st["requested"]
    for day in asked_again:
        requested[day.isoformat()] = inputs.now
    st["requested"] = {
        d: at for d, at in requested.items() if inputs.first_day <= date.fromisoformat(d) <= inputs.last_day
    }
    runs = {**st["request_runs"], **{d: r for d, r in inputs.request_runs.items() if r}}
    st["request_runs"] = {d: r for d, r in runs.items() if d in st["requested"]}


def _settle_runs(result: TickResult, inputs: TickInputs, config: SchedulerConfig) -> None:
    st = result.state
    for token, entry in list(st["fired"].items()):
        status = inputs.run_status.get(token)
        if status == "SUCCESS":
            del st["fired"][token]
            _served(st, entry)
        elif status in TERMINAL_FAILURES:
            del st["fired"][token]
            result.log.append(f"run for report {token[:8]} ({entry['start']}..{entry['end']}) ended {status}")
            _failed(result, entry["start"], entry["end"], f"its run ended {status}", inputs.now, config)
        elif status is None and inputs.now - entry["fired_at"] > FIRED_GRACE:
            # The run was never created (the daemon died between this cursor and the launch, or the
            # run was deleted): ask DailyMotion about the report again; FINISHED fires it once more
            # under the same run key, EXPIRED or unknown lets the days be asked anew.
            del st["fired"][token]
            st["reports"][token] = {
                "start": entry["start"],
                "end": entry["end"],
                "asked_at": entry.get("asked_at", entry["fired_at"]),
                "next_poll": inputs.now,
                "polls": 0,
                **({"request_run": entry["request_run"]} if entry.get("request_run") else {}),
            }
            result.log.append(f"run for report {token[:8]} does not exist; checking the report again")
    keep = inputs.last_day - timedelta(days=max(config.settle_days, 0))
    st["fetched"] = {d: t for d, t in st["fetched"].items() if date.fromisoformat(d) > keep}


def _served(st: dict[str, Any], entry: Mapping[str, Any]) -> None:
    """A run loaded these days: requests, failure counts and a give-up on them are settled."""
    served = set(days_of(entry["start"], entry["end"]))
    asked_at = entry.get("asked_at", entry["fired_at"])
    st["requested"] = {
        d: at for d, at in st["requested"].items() if date.fromisoformat(d) not in served or at > asked_at
    }
    st["given_up"] = _as_ranges(_expand(st["given_up"]) - served)
    for key in list(st["failures"]):
        if set(days_of(*key.split("/"))) <= served:
            del st["failures"][key]
    for day in served:
        st["fetched"][day.isoformat()] = max(st["fetched"].get(day.isoformat(), asked_at), asked_at)


def _poll(result: TickResult, inputs: TickInputs, api: ReportApi, config: SchedulerConfig) -> None:
    st, now = result.state, inputs.now
    due = sorted(t for t, r in st["reports"].items() if r["next_poll"] <= now)
    if not due:
        return
    try:
        states = api.report_states(due)
    except ApiError as exc:  # an outage must not cost the tick's other work (finished runs, asks)
        for token in due:
            _poll_later(st["reports"][token], now, config)
        result.log.append(f"polling {len(due)} report(s) failed: {exc}; polling again later")
        return
    for token, state in states.items():
        entry = st["reports"][token]
        span = f"{entry['start']}..{entry['end']}"
        if state.status == "FINISHED":
            del st["reports"][token]
            st["fired"][token] = {
                "start": entry["start"],
                "end": entry["end"],
                "asked_at": entry["asked_at"],
                "fired_at": now,
                **({"request_run": entry["request_run"]} if entry.get("request_run") else {}),
            }
            result.fired.append(
                FiredReport(
                    token,
                    entry["start"],
                    entry["end"],
                    state.links,
                    entry["asked_at"],
                    entry.get("request_run"),
                )
            )
            result.log.append(f"report {token[:8]} ({span}) finished with {len(state.links)} file(s)")
        elif state.status == "FAILED":
            del st["reports"][token]
            _failed(result, entry["start"], entry["end"], "DailyMotion reported FAILED", now, config)
        elif state.status == "EXPIRED":
            del st["reports"][token]  # its days are uncovered again and asked anew below
            result.log.append(f"report {token[:8]} ({span}) expired before download; asking again")
        elif state.error and "not found" in state.error.lower():
            del st["reports"][token]
            result.log.append(f"report {token[:8]} ({span}) is unknown to DailyMotion; asking again")
        else:
            _poll_later(entry, now, config)
            if state.error:
                result.log.append(f"report {token[:8]} ({span}): {state.error}; polling again")


def _poll_later(entry: dict[str, Any], now: float, config: SchedulerConfig) -> None:
    entry["polls"] += 1
    entry["next_poll"] = now + min(config.poll_initial * 2 ** entry["polls"], config.poll_max)


def _failed(result: TickResult, start: str, end: str, why: str, now: float, config: SchedulerConfig) -> None:
    failures = result.state["failures"]
    key = f"{start}/{end}"
    count = failures.get(key, {}).get("count", 0) + 1
    if count > config.max_failures:
        failures.pop(key, None)
        result.state["given_up"].append([start, end])
        message = (
            f"DailyMotion report for {start}..{end} failed {count} times ({why}); giving up on these days. "
            "Materialize dm_hourly_reports for them to ask again."
        )
        result.state["alerts"].append({"message": message, "until": now + config.alert_seconds})
        result.log.append(message)
        return
    failures[key] = {"count": count, "retry_at": now + config.failure_backoff * 2 ** (count - 1)}
    result.log.append(f"report for {start}..{end}: {why} (failure {count}); asking again later")


def wanted_days(st: Mapping[str, Any], inputs: TickInputs, config: SchedulerConfig) -> list[date]:
    """Missing recent days, requested days and settled days due again, unless generating, in flight,
    backing off or given up."""
    window_start = max(inputs.first_day, inputs.last_day - timedelta(days=config.lookback_days - 1))
    recent = {window_start + timedelta(days=i) for i in range((inputs.last_day - window_start).days + 1)}
    recent = recent if config.lookback_days > 0 else set()
    missing = {d for d in recent if d.isoformat() not in inputs.materialized}
    blocked = _expand([r["start"], r["end"]] for r in (*st["reports"].values(), *st["fired"].values()))
    blocked |= _expand(k.split("/") for k, f in st["failures"].items() if f["retry_at"] > inputs.now)
    blocked |= _expand(st["given_up"])
    requested = {date.fromisoformat(d) for d in st["requested"]}
    return sorted((missing | requested | settle_due(st, inputs, config)) - blocked)


def settle_due(st: Mapping[str, Any], inputs: TickInputs, config: SchedulerConfig) -> set[date]:
    """Materialized days among the last `settle_days` whose data was asked before the day settled."""
    due = set()
    for i in range(max(config.settle_days, 0)):
        day = inputs.last_day - timedelta(days=i)
        if day < inputs.first_day or day.isoformat() not in inputs.materialized:
            continue
        settled_at = datetime.combine(day + timedelta(days=1), time(), UTC).timestamp()
        settled_at += config.settle_hours * 3600
        fetched = max(
            st["fetched"].get(day.isoformat(), float("-inf")),
            inputs.loaded_asked_at.get(day.isoformat(), float("-inf")),
        )
        if inputs.now >= settled_at and fetched < settled_at:
            due.add(day)
    return due


def _ask(result: TickResult, inputs: TickInputs, api: ReportApi, config: SchedulerConfig) -> None:
    st = result.state
    slots = config.max_reports - len(st["reports"])
    if slots <= 0:
        return
    ranges = group_days(wanted_days(st, inputs, config), config.max_range_days)
    ranges = sorted(ranges, reverse=True)[:slots]  # newest first: recent days matter most
    if not ranges:
        return
    _say_why_loaded_days_are_asked(result, inputs, config, ranges)
    st["asking"] = [[a.isoformat(), b.isoformat()] for a, b in ranges]
    result.save()  # a crash during the ask is recovered by `_recover_interrupted_ask`
    try:
        outcomes = api.ask_reports([ReportSpec(a, b, config.metrics, config.dimensions) for a, b in ranges])
    except ApiError as exc:
        st["asking"] = []
        # Counted and backed off like a FAILED report; the rest of the tick (fired runs) is kept. The
        # vendor may have created the reports anyway (lost answer): it has no call to list them, so they
        # hold its slots until they finish and the next ask is refused as busy meanwhile.
        for a, b in ranges:
            why = f"asking DailyMotion failed: {exc}"
            _failed(result, a.isoformat(), b.isoformat(), why, inputs.now, config)
        return
    st["asking"] = []
    for outcome in outcomes:
        start, end = outcome.spec.start.isoformat(), outcome.spec.end.isoformat()
        if outcome.token:
            request_run = _request_run(st, start, end)
            st["reports"][outcome.token] = {
                "start": start,
                "end": end,
                "asked_at": inputs.now,
                "next_poll": inputs.now + config.poll_initial,
                "polls": 0,
                **({"request_run": request_run} if request_run else {}),
            }
            result.asked.append((outcome.token, start, end))
            result.log.append(f"asked report {outcome.token[:8]} for {start}..{end}")
        elif outcome.refused_busy:
            result.log.append(f"DailyMotion is busy ({outcome.error}); {start}..{end} waits for a free slot")
        else:
            _failed(
                result, start, end, f"DailyMotion refused the report: {outcome.error}", inputs.now, config
            )
    result.save()  # the tokens are durable before anything else can fail in this tick


def _request_run(st: Mapping[str, Any], start: str, end: str) -> str | None:
    """The newest request run among the range's days: the load run's link back to what asked for it."""
    runs = [
        (st["requested"].get(d.isoformat(), 0.0), st["request_runs"].get(d.isoformat()))
        for d in days_of(start, end)
    ]
    runs = [(at, run) for at, run in runs if run]
    return max(runs)[1] if runs else None


def _say_why_loaded_days_are_asked(
    result: TickResult, inputs: TickInputs, config: SchedulerConfig, ranges: Sequence[tuple[date, date]]
) -> None:
    """Loaded days are asked again only when a user asked or they are in the settle window: say which."""
    asked = {d for a, b in ranges for d in days_of(a.isoformat(), b.isoformat())}
    loaded = sorted(d for d in asked if d.isoformat() in inputs.materialized)
    settling = [d for d in loaded if d in settle_due(result.state, inputs, config)]
    requested = [d for d in loaded if d.isoformat() in result.state["requested"] and d not in settling]
    if settling:
        result.log.append(
            f"re-pulling {_span(settling)}: loaded from a report asked before the day settled "
            f"({config.settle_hours:g} h after its end, UTC; the last {config.settle_days} day(s) are "
            "re-pulled once)"
        )
    if requested:
        result.log.append(f"re-pulling {_span(requested)}: already loaded, asked for again")


def _span(days: Sequence[date]) -> str:
    return ", ".join(f"{a}..{b}" if a != b else f"{a}" for a, b in group_days(days, 10**6))
