"""In the Dagster UI (headless Chromium), a failed Agora day is red on that day only, and recovers.

What a user does: nightly runs load three days, the middle day's logs are missing so its run fails;
`video-analytics ui`; the check's Partitions tab shows that day red and its neighbours green; the
logs arrive, the day is re-run, every day is green. The page is read through its DOM (the status dot
of each partition row) and the same statuses through the webserver's GraphQL API.

Debian's chromium is driven by Playwright (`executable_path`): a Playwright browser download is not
possible here, and `.ci/run` installs chromium where it is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from video_analytics.definitions import build_definitions
from video_analytics.sandbox import registry
from video_analytics.sandbox.agora.generator import write_day
from video_analytics.sandbox.demo import REPO_ROOT
from video_analytics.sandbox.demo_steps import run_step
from video_analytics.sandbox.start_date import record_demo_start
from video_analytics.settings import Settings
from video_analytics_tests.support import free_port, graphql

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the test is skipped without chromium; playwright is a dev dependency
    PlaywrightTimeout = TimeoutError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ASSET, CHECK = "agora_session_stats", "unique_stream_per_day"
DOT_COLOUR = """day => {
  const row = document.querySelector(`div[data-tooltip="${day}"]`);
  const dot = row && row.nextElementSibling;
  return (dot && (dot.style.backgroundColor || dot.style.background)) || null;
}"""  # the UI sets `background: var(--color-accent-…)`, which some renders expose only as `background`
DIALOG_BUTTONS = re.compile(r"^(Skip|Dismiss|Close|Not now|No thanks|Got it|Done)$", re.IGNORECASE)
UI_START_SECONDS = 300  # dagster dev: webserver, daemon, code server; minutes on a crowded 2-core box
CHECK_STATUSES = """
query($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) { ... on AssetNode {
    partitionStats { numPartitions }
    assetChecksOrError { ... on AssetChecks { checks { name
      partitionStatuses { ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } } }
    } } }
  } }
}
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian chromium (.ci/run installs it)"),
]


def test_a_failed_agora_day_is_red_on_that_day_only_and_green_after_recovery(tmp_path: Path):
    from playwright.sync_api import sync_playwright

    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = [yesterday - timedelta(days=offset) for offset in (2, 1, 0)]
    first, failed, last = (day.isoformat() for day in days)
    home, lake, logs = tmp_path / "home", tmp_path / "data", tmp_path / "agora_logs"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    record_demo_start(str(lake), days[0])  # as `video-analytics demo` does: the UI's partitions start here
    env = {"DAGSTER_HOME": str(home), "VIDEO_ANALYTICS_DATA_DIR": str(lake), "AGORA_LOG_ROOT": str(logs)}
    with _environment(env) as instance:
        defs = build_definitions(Settings(data_dir=str(lake), start_date=first))
        for day in (days[0], days[2]):
            write_day(str(logs), day, 2_000, files=2)
        nightly_runs = [_nightly_run(defs, instance, day) for day in days]
        assert nightly_runs == [True, False, True], "the middle day has no logs yet"

        with _ui(tmp_path, env) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            statuses = _graphql_statuses(url)
            assert statuses["partitions"] == 3, "the sandbox's partitions start at the demo's first day"
            expected = [
                (first, first, "SUCCEEDED"),
                (failed, failed, "EXECUTION_FAILED"),
                (last, last, "SUCCEEDED"),
            ]
            assert statuses["checks"] == {name: expected for name in statuses["checks"]}
            assert _dots(page, url, days) == {first: "green", failed: "red", last: "green"}

            write_day(str(logs), days[1], 2_000, files=2)  # the logs arrive; the day is re-run
            assert _nightly_run(defs, instance, days[1])
            statuses = _graphql_statuses(url)
            assert statuses["checks"] == {name: [(first, last, "SUCCEEDED")] for name in statuses["checks"]}
            assert _dots(page, url, days) == {first: "green", failed: "green", last: "green"}
            browser.close()


def _nightly_run(defs: dg.Definitions, instance: dg.DagsterInstance, day: date) -> bool:
    """The run the agora_daily schedule starts for one day (the demo's own step runner)."""
    try:
        run_step(registry.source("agora").demo_steps[0], defs, instance, (day.isoformat(), day.isoformat()))
    except dg.Failure as exc:
        assert "ops.agora_session_stats.config.allow_missing_days" in str(exc.description)
        return False
    return True


def _graphql_statuses(url: str) -> dict:
    variables = {"key": {"path": [ASSET]}}
    body = graphql(f"{url}/graphql", CHECK_STATUSES, _UI_PROCESS[-1], variables, timeout=UI_START_SECONDS)
    node = body["data"]["assetNodeOrError"]
    checks = {
        check["name"]: [
            (r["startKey"], r["endKey"], r["status"]) for r in check["partitionStatuses"]["ranges"]
        ]
        for check in node["assetChecksOrError"]["checks"]
    }
    return {"partitions": node["partitionStats"]["numPartitions"], "checks": checks}


def _dots(page, url: str, days: list[date]) -> dict[str, str]:
    """The colour of each day's status dot in the check's Partitions tab.

    The check's page is opened by its URL (the UI's own link), not by clicking through the asset:
    a fresh instance may lay a dialog over the page at any moment (sign-up, what's new), which takes
    pointer clicks. Dialogs are dismissed, and the tab gets its click event directly.
    """
    page.goto(f"{url}/assets/{ASSET}?view=checks&checkDetail={CHECK}", timeout=120_000)
    tab = page.get_by_role("tab", name="Partitions").last
    tab.wait_for(timeout=120_000)
    rows = {day: page.locator(f'div[data-tooltip="{day.isoformat()}"]').first for day in days}
    for _ in range(3):
        _dismiss_dialogs(page)
        tab.dispatch_event("click")
        try:
            rows[days[-1]].wait_for(timeout=30_000)
            break
        except PlaywrightTimeout:
            continue
    colours = {}
    for day in days:  # a row is drawn before its status arrives: wait for the dot's colour
        try:
            dot = page.wait_for_function(DOT_COLOUR, arg=day.isoformat(), timeout=60_000)
        except PlaywrightTimeout:
            html = rows[day].evaluate("e => e.parentElement.outerHTML") if rows[day].count() else "no row"
            raise AssertionError(f"no status colour for {day} in the Partitions tab: {html[:2000]}") from None
        colours[day.isoformat()] = dot.json_value().removeprefix("var(--color-accent-").removesuffix(")")
    return colours


def _dismiss_dialogs(page) -> None:
    """Close whatever dialog the UI shows (its own button if it has one, else Escape)."""
    for _ in range(3):
        dialogs = page.locator(".bp5-portal [role=dialog], .bp5-portal .bp5-dialog")
        if not dialogs.count():
            return
        buttons = dialogs.first.get_by_role("button", name=DIALOG_BUTTONS)
        if buttons.count():
            buttons.first.dispatch_event("click")
        else:
            page.keyboard.press("Escape")
        with suppress(PlaywrightTimeout):
            page.locator(".bp5-overlay-backdrop").first.wait_for(state="detached", timeout=10_000)


_UI_PROCESS: list[subprocess.Popen] = []


@contextmanager
def _ui(tmp_path: Path, env: dict[str, str]):
    """`video-analytics ui` (sandbox, dagster dev) on a free port; its whole process group is stopped."""
    port = free_port()
    command = [sys.executable, "-m", "video_analytics.cli", "ui", "--port", str(port)]
    log = (tmp_path / "ui.log").open("w")
    server = subprocess.Popen(
        command,
        env={**os.environ, **env},
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    _UI_PROCESS.append(server)
    try:
        yield f"http://127.0.0.1:{port}"
    except BaseException:
        print((tmp_path / "ui.log").read_text()[-3000:])
        raise
    finally:
        _UI_PROCESS.remove(server)
        _stop_group(server)


def _stop_group(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        server.wait(timeout=30)
    with suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # code servers that outlive dagster dev's shutdown
    server.wait(timeout=10)


@contextmanager
def _environment(env: dict[str, str]):
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        with dg.DagsterInstance.get() as instance:
            yield instance
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
