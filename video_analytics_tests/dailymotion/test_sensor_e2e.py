"""The sensor end to end: real client over HTTP, the simulator, Dagster runs, the Parquet lake."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from video_analytics.dailymotion import assets as dma
from video_analytics.dailymotion import resources as dm_resources
from video_analytics.dailymotion import transforms as dm_transforms
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
            [*dma.assets, *dma.asset_checks],
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
        # The resource as Dagster resolves it for the sensor (EnvVar credentials read at run time).
        result = dma.evaluate(context, context.resources.dailymotion, now=self.now)
        dma.record_asset_events(self.instance, result)
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
    assert daily.select(dm_transforms.DAILY_KEY).n_unique() == daily.height
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
    dm.knobs(truncate_downloads=1)
    driver.until_done(day_keys("2024-02-03", "2024-02-04"))
    assert dm.sim.stats.snapshot()["truncated"] == 1 and dm.sim.stats.snapshot()["downloads"] > 2
    assert (
        lake_table(driver.lake, "dm_hourly_reports").height
        == expected_hourly(dm, "2024-02-03", "2024-02-04").height
    )
    [run] = driver.runs
    metadata = run.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["report_files"].value > 1


def test_csv_truncated_every_time_fails_the_run_clearly_and_writes_nothing(dm, driver):
    driver.request("2024-02-03", "2024-02-03")
    driver.tick()
    [request] = driver.tick().run_requests
    dm.knobs(truncate_downloads=10)
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


# -- audit fixes ---------------------------------------------------------------------------------------


def test_a_lost_answer_to_the_ask_is_not_asked_again_and_the_days_are_served_later(dm, driver):
    """The vendor created the reports but the answer was cut off: asking again would duplicate them."""
    dm.knobs(report_delay=3600.0)
    driver.request("2024-02-01", "2024-02-06")
    dm.knobs(truncate_next=1)  # the token grant is not faulted: this hits the ask
    driver.tick()
    stats = dm.sim.stats.snapshot()
    assert stats["reports_asked"] == 2 and stats["requests"]["graphql"] == 1
    assert stats.get("reports_refused", 0) == 0
    state = dma.scheduling.load_state(driver.cursor)
    assert state["reports"] == {}
    assert sorted(state["failures"]) == ["2024-02-01/2024-02-03", "2024-02-04/2024-02-06"]
    # The orphans hold both slots: the next ask is refused as busy, not counted as a failure.
    driver.tick()
    assert dm.sim.stats.snapshot()["reports_refused"] == 2
    assert all(f["count"] == 1 for f in dma.scheduling.load_state(driver.cursor)["failures"].values())
    dm.advance(3601)  # the orphans finish (nobody downloads them); the slots are free again
    dm.knobs(report_delay=0.0)
    driver.until_done(day_keys("2024-02-01", "2024-02-06"))
    assert dm.sim.stats.snapshot()["reports_asked"] == 4
    assert len(driver.fired) == 2
    assert (
        lake_table(driver.lake, "dm_hourly_reports").height
        == expected_hourly(dm, "2024-02-01", "2024-02-06").height
    )
    driver.tick()  # sees the runs' success
    assert dma.scheduling.load_state(driver.cursor)["failures"] == {}


def test_a_failing_ask_keeps_the_runs_of_reports_finished_in_the_same_tick(dm, driver):
    driver.request("2024-02-01", "2024-02-09")
    driver.tick()  # asks 02-07..09 and 02-04..06; they finish at once (report_delay 0)
    good = driver.resource
    # The next ask fails as a whole request (GraphQL error without data), as in an API change.
    driver.resource = dm.resource(lookback_days=0, max_range_days=3, dimensions=["HOUR", "BOGUS"])
    result = driver.tick()
    assert sorted((r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in result.run_requests) == [
        ("2024-02-04", "2024-02-06"),
        ("2024-02-07", "2024-02-09"),
    ]
    failures = dma.scheduling.load_state(driver.cursor)["failures"]
    assert failures["2024-02-01/2024-02-03"]["count"] == 1
    driver.resource = good
    for request in result.run_requests:
        driver.run(request)
    driver.until_done(day_keys("2024-02-01", "2024-02-09"))
    assert len({r.run_key for r in driver.fired}) == len(driver.fired) == 3


def test_a_materialized_day_requested_again_is_fetched_again(dm, driver):
    driver.request("2024-02-05", "2024-02-05")
    driver.until_done({"2024-02-05"})
    assert dm.sim.stats.snapshot()["reports_asked"] == 1
    before = lake_table(driver.lake, "dm_hourly_reports")
    driver.request("2024-02-05", "2024-02-05")  # "fetch this day again"
    for _ in range(3):
        for request in driver.tick().run_requests or []:
            driver.run(request)
    assert dm.sim.stats.snapshot()["reports_asked"] == 2 and len(driver.runs) == 2
    assert_frame_equal(lake_table(driver.lake, "dm_hourly_reports"), before)  # replaced, not appended
    state = dma.scheduling.load_state(driver.cursor)
    assert state["requested"] == {} and state["fired"] == {}
    driver.tick()
    assert dm.sim.stats.snapshot()["reports_asked"] == 2  # served: not asked a third time


def test_yesterday_fetched_after_midnight_is_fetched_once_more_when_settled(dm, tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        driver = Driver(instance, dm.resource(lookback_days=1, settle_hours=9), tmp_path)
        driver.now = datetime(2024, 3, 1, 0, 5, tzinfo=UTC).timestamp()
        driver.until_done({"2024-02-29"})
        assert dm.sim.stats.snapshot()["reports_asked"] == 1
        driver.tick(advance=3600)  # 01:05: not settled yet
        assert dm.sim.stats.snapshot()["reports_asked"] == 1
        driver.now = datetime(2024, 3, 1, 9, 0, tzinfo=UTC).timestamp()
        for _ in range(3):
            for request in driver.tick().run_requests or []:
                driver.run(request)
        assert dm.sim.stats.snapshot()["reports_asked"] == 2
        assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in driver.fired] == [
            ("2024-02-29", "2024-02-29"),
            ("2024-02-29", "2024-02-29"),
        ]
        driver.tick(advance=6 * 3600)
        assert dm.sim.stats.snapshot()["reports_asked"] == 2  # once settled, once only


def test_a_success_clears_the_failure_count_of_its_days(dm, driver):
    dm.knobs(fail_next_reports=1)
    driver.request("2024-02-01", "2024-02-02")
    driver.until_done(day_keys("2024-02-01", "2024-02-02"))
    driver.tick()
    assert dma.scheduling.load_state(driver.cursor)["failures"] == {}


def test_one_oauth_grant_serves_many_ticks_and_runs(dm, driver, monkeypatch):
    monkeypatch.setattr(dm_resources, "_AUTHS", {}, raising=False)  # no token left over from another test
    dm.sim.stats.reset()
    driver.request("2024-02-01", "2024-02-06")
    driver.until_done(day_keys("2024-02-01", "2024-02-06"))
    assert len(driver.runs) == 2
    assert dm.sim.stats.snapshot()["tokens_issued"] == 1
    httpx.post(f"{dm.url}/_sandbox/expire_tokens")  # expiry and refresh still work on the shared token
    driver.request("2024-02-07", "2024-02-07")
    driver.until_done({"2024-02-07"})
    assert dm.sim.stats.snapshot()["rejected_tokens"] == 1
    assert dm.sim.stats.snapshot()["tokens_issued"] == 2


def test_run_config_carries_only_the_report_token(dm, driver):
    driver.request("2024-02-03", "2024-02-03")
    driver.until_done({"2024-02-03"})
    [request] = driver.fired
    assert request.run_config == {"ops": {"dm_hourly_reports": {"config": {"report_token": request.run_key}}}}
    assert "download" not in str(driver.instance.get_run_by_id(driver.runs[0].run_id).run_config)


def test_an_expired_report_fails_its_run_clearly_and_is_asked_again(dm, driver):
    driver.request("2024-02-03", "2024-02-03")
    driver.tick()
    [request] = driver.tick().run_requests
    dm.advance(49 * 3600)  # the run started too late: the report expired
    result = driver.run(request, raise_on_error=False)
    error = result.get_step_failure_events()[0].step_failure_data.error.to_string()
    assert "is EXPIRED" in error and "asks DailyMotion for these days again" in error
    driver.until_done({"2024-02-03"})
    assert dm.sim.stats.snapshot()["reports_asked"] == 2


def test_report_rows_outside_the_runs_days_fail_the_load_clearly_and_write_nothing(dm, driver):
    driver.request("2024-02-03", "2024-02-03")
    driver.tick()
    [request] = driver.tick().run_requests
    wrong_day = {**request.tags, RANGE_START_TAG: "2024-02-04", RANGE_END_TAG: "2024-02-04"}
    bad = dg.RunRequest(
        run_key=request.run_key,
        tags=wrong_day,
        run_config=request.run_config,
        asset_selection=request.asset_selection,
    )
    result = driver.run(bad, raise_on_error=False)
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error.to_string()
    assert "dated 2024-02-03 fall outside the run's days 2024-02-04..2024-02-04" in error
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert checks == []  # nothing was written, so nothing is reported as checked
    assert not (driver.lake / "dm_hourly_reports").exists()


def test_days_given_up_are_shown_on_every_tick_until_asked_again(dm, tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        resource = dm.resource(lookback_days=0, max_report_failures=0, alert_seconds=60)
        driver = Driver(instance, resource, tmp_path)
        dm.knobs(fail_next_reports=1)
        driver.request("2024-02-01", "2024-02-01")
        with pytest.raises(dma.DailyMotionReportsError):
            for _ in range(4):
                driver.tick()
        for _ in range(2):
            message = driver.tick(advance=3600).skip_reason.skip_message
            assert "GIVEN UP: 1 day(s) (2024-02-01..2024-02-01)" in message
        driver.request("2024-02-01", "2024-02-01")
        driver.until_done({"2024-02-01"})
        assert "GIVEN UP" not in driver.tick().skip_reason.skip_message


def test_duplicate_report_rows_are_collapsed_with_a_warning():
    day = date(2024, 2, 1)
    frame = dm_transforms.parse_report_csv(
        "hour,video_id,views,time_watched_seconds,view_through_rate\n"
        "2024-02-01T05:00:00Z,x1,1,10,100.0\n2024-02-01T05:00:00Z,x1,3,30,0.0\n",
        ["HOUR", "VIDEO_ID"],
        dm_transforms.column_names(["VIEWS", "TIME_WATCHED_SECONDS", "VIEW_THROUGH_RATE"]),
    )
    metrics = ["VIEWS", "TIME_WATCHED_SECONDS", "VIEW_THROUGH_RATE"]
    raw = dm_transforms.raw_report_stats([frame], ["HOUR", "VIDEO_ID"], metrics, [day])
    hourly = dm_transforms.hourly_reports([frame], ["HOUR", "VIDEO_ID"], metrics, [day])
    checks = {c.check_name: c for c in dma.hourly_checks(hourly, [day], 100.0, raw)}
    unique = checks["unique_hour_dimension_key"]
    assert hourly.height == 1 and not unique.passed and unique.severity == dg.AssetCheckSeverity.WARN
    assert unique.metadata["duplicate_rows_collapsed"].value == 1
    assert checks["hours_inside_partition_day"].passed
