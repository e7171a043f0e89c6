"""The sensor end to end: real client over HTTP, the simulator, Dagster runs, the Parquet lake."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from video_analytics.dailymotion import assets as dma
from video_analytics.partitions import RANGE_END_TAG, RANGE_START_TAG
from video_analytics.storage.parquet import ParquetLakeIOManager

RANGE = ("2024-02-01", "2024-02-10")
#: The sensor's clock: the simulator's "today" (2024-03-01) at noon, so the look-back window is real.
NOW = datetime(2024, 3, 1, 12, tzinfo=UTC).timestamp()


class Driver:
    """Plays the sensor daemon and the run launcher in-process, ticking with an explicit clock."""

    def __init__(self, instance: dg.DagsterInstance, resource, lake: Path, io_manager=None) -> None:
        self.instance, self.resource, self.lake = instance, resource, lake
        self.io_manager = io_manager or ParquetLakeIOManager(root=str(lake))
        self.cursor: str | None = None
        self.now = NOW
        self.runs: list[dg.ExecuteInProcessResult] = []
        self.fired: list[dg.RunRequest] = []

    def resources(self) -> dict:
        return {"dailymotion": self.resource, dma.IO_MANAGER_KEY: self.io_manager}

    def request(self, start: str, end: str, asset: dg.AssetKey = dma.REQUESTS) -> dg.ExecuteInProcessResult:
        """What a UI backfill of dm_report_requests (or of dm_hourly_reports) over a range does."""
        return self.materialize([asset], {RANGE_START_TAG: start, RANGE_END_TAG: end})

    def materialize(self, selection, tags, run_config=None, raise_on_error=True) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            dma.assets,
            selection=selection,
            resources=self.resources(),
            instance=self.instance,
            tags=tags,
            run_config=run_config,
            raise_on_error=raise_on_error,
        )

    def tick(self, advance: float = 1.0) -> dg.SensorResult:
        self.now += advance
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources={"dailymotion": self.resource}
        )
        result = dma.evaluate(context, self.resource, now=self.now)
        self.cursor = result.cursor
        return result

    def run(self, request: dg.RunRequest, raise_on_error=True) -> dg.ExecuteInProcessResult:
        self.fired.append(request)
        tags = {**request.tags, "dagster/run_key": request.run_key}
        result = self.materialize(request.asset_selection, tags, request.run_config, raise_on_error)
        self.runs.append(result)
        return result

    def until_done(self, days: set[str], max_ticks: int = 30, raise_on_error=True) -> None:
        for _ in range(max_ticks):
            if days <= self.instance.get_materialized_partitions(dma.HOURLY):
                return
            for request in self.tick().run_requests or []:
                self.run(request, raise_on_error)
        raise AssertionError(f"not materialized after {max_ticks} ticks: {sorted(days)}")


def day_keys(start: str, end: str) -> set[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return {(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)}


def lake_table(lake: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(sorted((lake / table).glob("date=*/part-0.parquet")))


def expected_hourly(dm, start: str, end: str) -> pl.DataFrame:
    truth = dm.sim.world.truth(date.fromisoformat(start), date.fromisoformat(end))
    truth = truth.rename({c: c.lower() for c in truth.columns})
    return truth.with_columns(pl.col("hour").dt.date().alias("day")).select("day", *truth.columns)


@pytest.fixture
def driver(dm, tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        yield Driver(instance, dm.resource(lookback_days=0, max_range_days=3), tmp_path / "lake")


def test_ten_day_backfill_is_served_by_ceil_10_over_max_range_reports_and_matches_the_simulator(dm, driver):
    request = driver.request(*RANGE)
    assert request.success and not driver.instance.get_materialized_partitions(dma.HOURLY)
    driver.until_done(day_keys(*RANGE))

    assert dm.sim.stats.snapshot()["reports_asked"] == math.ceil(10 / 3)
    assert sorted((r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in driver.fired) == [
        ("2024-02-01", "2024-02-03"),
        ("2024-02-04", "2024-02-06"),
        ("2024-02-07", "2024-02-09"),
        ("2024-02-10", "2024-02-10"),
    ]
    assert all(r.run_key in dm.sim.reports for r in driver.fired)  # run key = report token
    hourly = lake_table(driver.lake, "dm_hourly_reports").sort(["hour", "video_id"], nulls_last=True)
    truth = expected_hourly(dm, *RANGE)
    sort = [c for c in truth.columns if c not in ("views", "time_watched_seconds", "view_through_rate")]
    assert_frame_equal(
        hourly.sort(sort, nulls_last=True), truth.sort(sort, nulls_last=True), check_dtypes=False
    )

    daily = lake_table(driver.lake, "dm_daily_video_stats")
    assert daily["views"].sum() == truth["views"].sum()
    assert daily.select(dma.transforms.DAILY_KEY).n_unique() == daily.height
    assert daily["video_title"].null_count() == 0 and daily["player_label"].null_count() == 0
    assert (daily["playlist_id"].is_null() == daily["playlist_name"].is_null()).all()
    assert dict(daily.schema)["video_tags"] == pl.List(pl.String)

    # No secret in any event of any run (logs, metadata, run config).
    for run in driver.runs:
        text = str(driver.instance.all_logs(run.run_id)) + str(run.dagster_run.run_config)
        assert dm.sim.client_secret not in text
    # Everything checked out, and the sensor has nothing more to do.
    last = driver.tick()
    assert not last.run_requests and "0 requested day(s) pending" in last.skip_reason.skip_message


def test_materializing_dm_hourly_reports_without_links_is_a_request_too(dm, driver):
    result = driver.request("2024-02-11", "2024-02-12", asset=dma.HOURLY)
    assert result.success and not result.get_asset_materialization_events()
    [observation] = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert observation.asset_key == dma.HOURLY
    driver.until_done(day_keys("2024-02-11", "2024-02-12"))
    assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in driver.fired] == [
        ("2024-02-11", "2024-02-12")
    ]


def test_rerunning_a_report_run_changes_nothing(dm, driver):
    driver.request("2024-02-05", "2024-02-06")
    driver.until_done(day_keys("2024-02-05", "2024-02-06"))
    before = {p: p.read_bytes() for p in sorted(driver.lake.rglob("*.parquet"))}
    rows = lake_table(driver.lake, "dm_hourly_reports").height
    driver.run(driver.fired[0])  # the same run again (e.g. "re-execute" in the UI)
    after = {p: p.read_bytes() for p in sorted(driver.lake.rglob("*.parquet"))}
    assert lake_table(driver.lake, "dm_hourly_reports").height == rows
    assert {p: pl.read_parquet(b) for p, b in before.items()}.keys() == after.keys()
    for path in before:
        assert_frame_equal(pl.read_parquet(before[path]), pl.read_parquet(after[path]))


def test_two_reports_at_most_and_a_restart_neither_loses_nor_repeats(dm, driver):
    dm.knobs(report_delay=3600.0)
    driver.request("2024-02-01", "2024-02-09")
    first = driver.tick()
    assert not first.run_requests and dm.sim.stats.snapshot()["reports_asked"] == 2
    saved = driver.cursor
    # The daemon dies and restarts from the stored cursor; ticks keep polling, never re-asking.
    for _ in range(3):
        driver.cursor = saved
        driver.tick()
    assert dm.sim.stats.snapshot()["reports_asked"] == 2
    assert dm.sim.stats.snapshot().get("reports_refused", 0) == 0
    dm.advance(3601)
    dm.knobs(report_delay=0.0)
    driver.until_done(day_keys("2024-02-01", "2024-02-09"))
    assert dm.sim.stats.snapshot()["reports_asked"] == 3
    assert len({r.run_key for r in driver.fired}) == len(driver.fired) == 3


def test_failed_report_is_asked_again_and_served(dm, driver):
    dm.knobs(fail_next_reports=1)
    driver.request("2024-02-01", "2024-02-02")
    driver.until_done(day_keys("2024-02-01", "2024-02-02"))
    assert dm.sim.stats.snapshot()["reports_asked"] == 2
    assert len(driver.fired) == 1


def test_report_failing_for_good_fails_the_sensor_tick_with_a_clear_message(dm, tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        resource = dm.resource(lookback_days=0, max_report_failures=1, alert_seconds=600)
        driver = Driver(instance, resource, tmp_path)
        dm.knobs(fail_next_reports=5)
        driver.request("2024-02-01", "2024-02-01")
        with pytest.raises(dma.DailyMotionReportsError, match=r"2024-02-01\.\.2024-02-01 failed 2 times"):
            for _ in range(6):
                driver.tick()
        driver.tick(advance=601)  # the alert has been shown long enough; the sensor carries on
        assert dm.sim.stats.snapshot()["reports_asked"] == 2


def test_expired_report_is_asked_again(dm, driver):
    dm.knobs(report_delay=10.0)
    driver.request("2024-02-03", "2024-02-03")
    driver.tick()
    dm.advance(49 * 3600)  # the daemon was down for two days: the report finished and expired
    dm.knobs(report_delay=0.0)
    driver.until_done({"2024-02-03"})
    assert dm.sim.stats.snapshot()["reports_asked"] == 2


def test_truncated_csv_is_downloaded_again(dm, driver):
    dm.sim.knobs.rows_per_file = 40  # several files per report
    driver.request("2024-02-03", "2024-02-04")
    result = driver.tick()
    assert not result.run_requests
    dm.knobs(truncate_next=1)
    driver.until_done(day_keys("2024-02-03", "2024-02-04"))
    assert dm.sim.stats.snapshot()["truncated"] == 1
    assert (
        lake_table(driver.lake, "dm_hourly_reports").height
        == expected_hourly(dm, "2024-02-03", "2024-02-04").height
    )
    links = driver.fired[0].run_config["ops"]["dm_hourly_reports"]["config"]["download_links"]
    assert len(links) > 1


def test_csv_truncated_every_time_fails_the_run_clearly_and_writes_nothing(dm, driver):
    driver.request("2024-02-03", "2024-02-03")
    driver.tick()
    [request] = driver.tick().run_requests
    dm.knobs(truncate_next=10)
    result = driver.run(request, raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "truncated" in failure.to_string() and "after 3 downloads" in failure.to_string()
    assert not (driver.lake / "dm_hourly_reports").exists()


def test_graphql_error_for_a_bad_dimension_is_reported(dm, tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        resource = dm.resource(lookback_days=0, dimensions=["HOUR", "VIDEO_ID", "VISITOR_COUNTRY"])
        driver = Driver(instance, resource, tmp_path)
        driver.request("2024-02-01", "2024-02-01")
        driver.tick()
        state = dma.scheduling.load_state(driver.cursor)
        assert state["failures"]["2024-02-01/2024-02-01"]["count"] == 1
        assert dm.sim.stats.snapshot()["graphql_errors"] == 1


def test_throttling_is_absorbed(dm, driver):
    driver.request("2024-02-01", "2024-02-01")
    dm.knobs(throttle_next=2, retry_after_header="0")
    driver.until_done({"2024-02-01"})
    assert dm.sim.stats.snapshot()["throttled"] == 2
    [run] = driver.runs
    metadata = run.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["api_requests"].value >= 1 and metadata["total_views"].value > 0


def test_lookback_window_fetches_missing_recent_days_without_any_request(dm, tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        driver = Driver(instance, dm.resource(lookback_days=3), tmp_path)
        driver.until_done(day_keys("2024-02-27", "2024-02-29"))
        assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in driver.fired] == [
            ("2024-02-27", "2024-02-29")
        ]
