"""What a user sees when they ask DailyMotion for days, and what survives a crash of the sensor."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest
from dagster._core.storage.tags import AUTO_RETRY_RUN_ID_TAG, WILL_RETRY_TAG

from video_analytics.dailymotion import assets as dma
from video_analytics.dailymotion import client as dm_client
from video_analytics.dailymotion import definitions as dm_definitions
from video_analytics.settings import Settings
from video_analytics_tests.dailymotion.test_sensor_e2e import Driver, day_keys

CHECK_KEYS = [dg.AssetCheckKey(dma.HOURLY, spec.name) for spec in dma.HOURLY_CHECKS]


def check_history(instance: dg.DagsterInstance) -> list:
    return [
        record
        for key in CHECK_KEYS
        for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=50)
    ]


def observations(instance: dg.DagsterInstance, day: str) -> list[dict]:
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=dma.HOURLY, asset_partitions=[day]), limit=20
    ).records
    return [{k: v.value for k, v in r.event_log_entry.asset_observation.metadata.items()} for r in records]


@pytest.fixture
def driver(dm, tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        yield Driver(instance, dm.resource(lookback_days=0, max_range_days=3), tmp_path / "lake")


def test_a_request_shows_its_days_pending_then_one_load_run_linked_to_the_request(dm, driver):
    dm.knobs(report_delay=3600.0)
    request = driver.request("2024-02-01", "2024-02-02")
    driver.tick()
    # Pending: observed with the report's status, not materialized, no check reported on nothing.
    for day in ("2024-02-01", "2024-02-02"):
        [pending] = observations(driver.instance, day)
        assert pending["dailymotion_status"].startswith("report asked")
        assert pending["report_days"] == "2024-02-01..2024-02-02"
    assert not driver.instance.get_materialized_partitions(dma.HOURLY)
    assert check_history(driver.instance) == []

    dm.advance(3601)
    driver.until_done(day_keys("2024-02-01", "2024-02-02"))
    [load] = driver.fired
    assert load.tags[dma.REQUEST_RUN_TAG] == request.run_id
    assert load.tags[dma.REPORT_TAG] == load.run_key[:8]
    [run] = driver.runs
    metadata = run.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["requested_by_run"].value == request.run_id
    # The checks ran once, on the load run, after its materialization.
    history = check_history(driver.instance)
    assert {r.run_id for r in history} == {run.run_id}
    assert sorted((r.key.name, r.partition) for r in history) == sorted(
        (key.name, day) for key in CHECK_KEYS for day in ("2024-02-01", "2024-02-02")
    )  # one result per check and day, and no row without a day
    assert all(r.status.value == "SUCCEEDED" for r in history), [(r.partition, r.status) for r in history]


def test_dm_report_requests_is_upstream_of_dm_hourly_reports():
    graph = dm_definitions.build(Settings.from_env()).resolve_asset_graph()
    assert dma.REQUESTS in graph.get(dma.HOURLY).parent_keys


def test_materializing_dm_hourly_reports_directly_writes_nothing_and_passes_no_check(dm, driver):
    result = driver.request("2024-02-11", "2024-02-11", asset=dma.HOURLY)
    assert result.success and not result.get_asset_materialization_events()
    assert [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"] == []
    assert not [r for r in check_history(driver.instance) if r.status.value == "SUCCEEDED"]
    driver.until_done({"2024-02-11"})
    assert len(driver.runs) == 1


def test_days_loaded_after_their_request_are_not_asked_again_when_the_sensor_starts_afresh(dm, driver):
    """The demo loads days with its own in-process sensor; the daemon's sensor starts later with
    no cursor (and here no journal): it must not re-request what is already loaded."""
    driver.request("2024-02-05", "2024-02-06")
    driver.until_done(day_keys("2024-02-05", "2024-02-06"))
    asked = dm.sim.stats.snapshot()["reports_asked"]
    driver.instance.run_storage.set_cursor_values({dma.JOURNAL_KEY: ""})
    driver.cursor = None
    for _ in range(3):
        assert not driver.tick().run_requests
    assert dm.sim.stats.snapshot()["reports_asked"] == asked
    assert dma.scheduling.load_state(driver.cursor)["requested"] == {}


def test_a_settled_day_loaded_before_a_cursor_loss_is_not_pulled_again(dm, tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        driver = Driver(instance, dm.resource(lookback_days=1, settle_hours=9), tmp_path)
        driver.now = datetime(2024, 3, 1, 10, 0, tzinfo=UTC).timestamp()  # 02-29 settled at 09:00
        driver.until_done({"2024-02-29"})
        assert dm.sim.stats.snapshot()["reports_asked"] == 1
        instance.run_storage.set_cursor_values({dma.JOURNAL_KEY: ""})
        driver.cursor = None
        driver.tick(advance=3600)
        assert dm.sim.stats.snapshot()["reports_asked"] == 1  # its report was asked after it settled


def test_a_crash_after_asking_but_before_the_cursor_is_saved_asks_nothing_twice(dm, driver):
    dm.knobs(report_delay=3600.0)
    driver.request("2024-02-01", "2024-02-06")
    saved = driver.cursor
    driver.tick()  # asks two reports; the daemon dies before storing this tick's cursor
    assert dm.sim.stats.snapshot()["reports_asked"] == 2
    for _ in range(3):
        driver.cursor = saved
        driver.tick()
    assert dm.sim.stats.snapshot()["reports_asked"] == 2
    assert dm.sim.stats.snapshot().get("reports_refused", 0) == 0
    dm.advance(3601)
    driver.until_done(day_keys("2024-02-01", "2024-02-06"))
    assert dm.sim.stats.snapshot()["reports_asked"] == 2 and len(driver.fired) == 2


def test_a_crash_while_the_ask_is_on_the_wire_backs_off_instead_of_asking_twice(dm, tmp_path, monkeypatch):
    with dg.DagsterInstance.ephemeral() as instance:
        resource = dm.resource(lookback_days=0, max_range_days=3, failure_backoff_seconds=600)
        driver = Driver(instance, resource, tmp_path)
        dm.knobs(report_delay=3600.0)
        driver.request("2024-02-01", "2024-02-03")
        real_ask = dm_client.DailyMotionClient.ask_reports

        def ask_then_die(self, specs):
            real_ask(self, specs)
            raise SystemExit("the daemon was killed before the answer was read")

        monkeypatch.setattr(dm_client.DailyMotionClient, "ask_reports", ask_then_die)
        with pytest.raises(SystemExit):
            driver.tick()
        monkeypatch.setattr(dm_client.DailyMotionClient, "ask_reports", real_ask)
        for _ in range(3):
            driver.tick()
        assert dm.sim.stats.snapshot()["reports_asked"] == 1  # the orphan is not duplicated
        state = dma.scheduling.load_state(driver.cursor)
        assert state["failures"]["2024-02-01/2024-02-03"]["count"] == 1 and state["asking"] == []
        dm.advance(3601)
        dm.knobs(report_delay=0.0)
        driver.tick(advance=601)
        driver.until_done(day_keys("2024-02-01", "2024-02-03"))
        assert dm.sim.stats.snapshot()["reports_asked"] == 2


def test_a_load_run_that_will_be_retried_is_waited_for_and_its_retry_serves_the_days(dm, driver):
    driver.request("2024-02-03", "2024-02-03")
    driver.tick()
    [request] = driver.tick().run_requests
    dm.knobs(error_next=100)  # the run fails as if its worker had died mid-download
    failed = driver.run(request, raise_on_error=False)
    assert not failed.success
    driver.instance.add_run_tags(failed.run_id, {WILL_RETRY_TAG: "true"})  # the daemon will retry it
    dm.knobs(error_next=0)
    for _ in range(3):
        assert not driver.tick().run_requests
    assert dm.sim.stats.snapshot()["reports_asked"] == 1  # in flight, not failed: nothing re-asked
    retry = driver.run(request)  # the daemon's retry (same run key and tags)
    driver.instance.add_run_tags(failed.run_id, {AUTO_RETRY_RUN_ID_TAG: retry.run_id})
    driver.tick()
    state = dma.scheduling.load_state(driver.cursor)
    assert state["fired"] == {} and state["failures"] == {} and state["requested"] == {}
    assert dm.sim.stats.snapshot()["reports_asked"] == 1


def test_a_fired_run_that_never_appeared_is_fired_again_while_its_report_lasts(dm, driver):
    driver.request("2024-02-03", "2024-02-03")
    driver.tick()
    [lost] = driver.tick().run_requests  # the daemon died before launching it
    for _ in range(2):
        assert not driver.tick(advance=60).run_requests
    [again] = driver.tick(advance=dma.scheduling.FIRED_GRACE).run_requests + driver.tick().run_requests
    assert again.run_key == lost.run_key
    driver.run(again)
    driver.tick()
    assert dm.sim.stats.snapshot()["reports_asked"] == 1
    assert "2024-02-03" in driver.instance.get_materialized_partitions(dma.HOURLY)
