"""`dm_daily_earnings`: the earnings report through the sensor-driven flow, to the lake and BigQuery."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import dagster as dg
import polars as pl
import pytest

from video_analytics.dailymotion import assets as dma
from video_analytics.dailymotion import client as dmc
from video_analytics.dailymotion import earnings
from video_analytics.sandbox.dailymotion.simulator import Report
from video_analytics.storage import bigquery as bq
from video_analytics_tests.dailymotion.test_bigquery import manager, standard
from video_analytics_tests.dailymotion.test_sensor_e2e import Driver, day_keys

DAYS = ("2024-02-01", "2024-02-02")


class EarningsDriver(Driver):
    """The Driver, ticking the earnings sensor and running its requests."""

    def materialize(self, selection, tags, run_config=None, raise_on_error=True):
        return dg.materialize(
            [*dma.assets, *dma.asset_checks, *earnings.assets],
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
        result = dma.evaluate(context, context.resources.dailymotion, now=self.now, flow=dma.EARNINGS_FLOW)
        dma.record_asset_events(self.instance, result)
        self.cursor = result.cursor
        return result

    def until_loaded(self, days: set[str]) -> None:
        for _ in range(30):
            if days <= self.instance.get_materialized_partitions(dma.EARNINGS):
                return
            for request in self.tick().run_requests or []:
                self.run(request)
        raise AssertionError(f"earnings not loaded for {sorted(days)}")


def truth(dm) -> pl.DataFrame:
    start, end = (date.fromisoformat(d) for d in DAYS)
    report = Report("", "", dmc.EARNINGS_METRICS, dmc.EARNINGS_DIMENSIONS, start, end, 0, 0, False)
    return dm.sim.world.report_frame(report)


def test_earnings_are_requested_like_the_audience_and_match_the_simulator(dm, tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        driver = EarningsDriver(instance, dm.resource(lookback_days=0), tmp_path / "lake")
        request = driver.request(*DAYS)
        driver.until_loaded(day_keys(*DAYS))
        [load] = driver.fired
        assert load.asset_selection == [dma.EARNINGS] and load.tags[dma.REQUEST_RUN_TAG] == request.run_id
        asked = [r for r in dm.sim.reports.values() if r.token == load.run_key]
        assert asked[0].metrics == dmc.EARNINGS_METRICS and asked[0].dimensions[0] == "DAY"
        assert not instance.get_materialized_partitions(dma.HOURLY)  # the audience sensor is separate
    frame = pl.read_parquet(sorted((tmp_path / "lake" / "dm_daily_earnings").glob("date=*/part-0.parquet")))
    expected = truth(dm)
    assert frame.height == expected.height
    assert (
        frame.select(["day", "video_id", "visitor_page_url", "visitor_device_type"]).n_unique()
        == frame.height
    )
    assert frame.schema["estimated_earnings_eur"] == pl.Decimal(18, 6)
    total = frame["estimated_earnings_eur"].sum()
    assert abs(total - Decimal(str(round(expected["ESTIMATED_EARNINGS_EUR"].sum(), 6)))) < Decimal("0.0001")
    assert total > 0
    [run] = driver.runs
    metadata = run.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["total_earnings_eur"].value == pytest.approx(float(total), abs=0.01)


def test_earnings_land_in_bigquery_as_numeric_like_the_hourly_data(dm, bigquery, tmp_path):
    client, project, dataset = bigquery  # bqemulator, in-process
    with dg.DagsterInstance.ephemeral() as instance:
        driver = EarningsDriver(instance, dm.resource(lookback_days=0), tmp_path, io_manager=manager())
        driver.request(*DAYS)
        driver.until_loaded(day_keys(*DAYS))
    table = client.get_table(f"{project}.{dataset}.dm_daily_earnings")
    assert table.time_partitioning.field == "day"
    types = {f.name: (standard(f.field_type), f.mode) for f in table.schema}
    assert types["estimated_earnings_eur"][0] == "NUMERIC"
    assert types["day"] == ("DATE", "REQUIRED") and types["video_id"] == ("STRING", "REQUIRED")
    days = bq.query_frame(
        client, f"SELECT DISTINCT day FROM `{table.project}.{dataset}.dm_daily_earnings` ORDER BY day"
    )
    assert [d.isoformat() for d in days["day"]] == list(DAYS)


def test_the_sandbox_refuses_earnings_by_hour_like_the_vendor(dm):
    env = dm.sim.env(dm.url)
    with dmc.DailyMotionClient(env["DM_CLIENT_API"], env["DM_CLIENT_SECRET"], base_url=dm.url) as client:
        spec = dmc.ReportSpec(date(2024, 2, 1), date(2024, 2, 1), dmc.EARNINGS_METRICS, ("HOUR", "VIDEO_ID"))
        [outcome] = client.ask_reports([spec])
    assert outcome.token is None and "not available by HOUR" in outcome.error
