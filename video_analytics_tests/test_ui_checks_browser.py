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
from contextlib import contextmanager
from datetime import date

import dagster as dg
import pytest

from video_analytics.agora import definitions as agora
from video_analytics.agora.generator import write_day
from video_analytics.definitions import build_definitions
from video_analytics.demo import run_step
from video_analytics.settings import Settings
from video_analytics_tests.dagster_ui import UI_GROUP, DagsterUI

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
    pytest.mark.xdist_group(UI_GROUP),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian chromium (.ci/run installs it)"),
]


def test_a_failed_agora_day_is_red_on_that_day_only_and_green_after_recovery(dagster_ui: DagsterUI):
    from playwright.sync_api import sync_playwright

    days = list(dagster_ui.days)  # the UI's partitions start at the first of them
    first, failed, last = (day.isoformat() for day in days)
    logs = dagster_ui.agora_logs
    with dagster_ui.instance() as instance:
        defs = build_definitions(Settings(data_dir=str(dagster_ui.lake), start_date=first))
        for day in (days[0], days[2]):
            write_day(str(logs), day, 2_000, files=2)
        nightly_runs = [_nightly_run(defs, instance, day) for day in days]
        assert nightly_runs == [True, False, True], "the middle day has no logs yet"

        with _on_failure_print(dagster_ui), sync_playwright() as playwright:
            url = dagster_ui.url
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            statuses = _graphql_statuses(dagster_ui)
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
            statuses = _graphql_statuses(dagster_ui)
            assert statuses["checks"] == {name: [(first, last, "SUCCEEDED")] for name in statuses["checks"]}
            assert _dots(page, url, days) == {first: "green", failed: "green", last: "green"}
            browser.close()


def _nightly_run(defs: dg.Definitions, instance: dg.DagsterInstance, day: date) -> bool:
    """The run the agora_daily schedule starts for one day (the demo's own step runner)."""
    try:
        run_step(agora.DEMO_STEPS[0], defs, instance, (day.isoformat(), day.isoformat()))
    except dg.Failure as exc:
        assert "ops.agora_session_stats.config.allow_missing_days" in str(exc.description)
        return False
    return True


def _graphql_statuses(ui: DagsterUI) -> dict:
    body = ui.graphql(CHECK_STATUSES, {"key": {"path": [ASSET]}})
    node = body["data"]["assetNodeOrError"]
    checks = {
        check["name"]: [
            (r["startKey"], r["endKey"], r["status"]) for r in check["partitionStatuses"]["ranges"]
        ]
        for check in node["assetChecksOrError"]["checks"]
    }
    return {"partitions": node["partitionStats"]["numPartitions"], "checks": checks}


def _dots(page, url: str, days: list[date]) -> dict[str, str]:
    """The colour of each day's status dot in the check's Partitions tab."""
    page.goto(f"{url}/assets/{ASSET}?view=checks", timeout=120_000)
    page.get_by_text(CHECK).first.wait_for(timeout=120_000)
    skip = page.get_by_role("button", name="Skip")  # the community sign-up dialog of a fresh instance
    if skip.count():
        skip.click()
    page.get_by_text(CHECK).first.click()
    page.get_by_role("tab", name="Partitions").last.click()
    colours = {}
    for day in days:
        row = page.locator(f'div[data-tooltip="{day.isoformat()}"]').first
        row.wait_for(timeout=60_000)
        style = row.evaluate("element => element.nextElementSibling.style.backgroundColor")
        colours[day.isoformat()] = style.removeprefix("var(--color-accent-").removesuffix(")")
    return colours


@contextmanager
def _on_failure_print(ui: DagsterUI):
    """The UI's log in the test's output when an assertion fails."""
    try:
        yield
    except BaseException:
        print(ui.log_tail())
        raise
