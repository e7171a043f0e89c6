"""The BigQuery IO manager on bqemulator (a BigQuery REST implementation, in-process), plus a gated
live test against real BigQuery.

Everything goes through the real client and REST API: table creation with day partitioning, Parquet
load jobs into staging tables, the DELETE + INSERT transaction that replaces a run's days, reads with
query parameters. `test_live_round_trip` runs the same path on real BigQuery when
VIDEO_ANALYTICS_BQ_LIVE_PROJECT / _DATASET and Google credentials are configured.
"""

import os
import uuid
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl
import pytest

from video_analytics.settings import Settings, SettingsError
from video_analytics.storage import bigquery as bq
from video_analytics.storage.targets import io_manager_for

TAGS = {
    "dagster/asset_partition_range_start": "2024-02-01",
    "dagster/asset_partition_range_end": "2024-02-03",
}


class StatsConfig(dg.Config):
    empty_day: str = ""  # a day the source reports no rows for


@dg.asset(
    partitions_def=dg.DailyPartitionsDefinition("2024-01-01", timezone="UTC"),
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={"partition_column": "day", "bigquery_required": ["day", "video_id"]},
)
def stats(config: StatsConfig) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "day": [date(2024, 2, 1), date(2024, 2, 1), date(2024, 2, 3)],
            "video_id": ["x1", "x2", "x1"],
            "views": [1, 2, 3],
            "view_through_rate": [0.5, None, 1.0],
            "video_created_time": [datetime(2024, 1, 1, tzinfo=UTC)] * 3,
            "video_tags": [["a"], [], ["b", "c"]],
        }
    )
    return frame.filter(pl.col("day") != date.fromisoformat(config.empty_day)) if config.empty_day else frame


@dg.asset(partitions_def=stats.partitions_def, backfill_policy=dg.BackfillPolicy.single_run())
def downstream(stats: pl.DataFrame) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": stats.height})


def manager() -> bq.BigQueryIOManager:
    return bq.BigQueryIOManager(
        project=os.environ["VIDEO_ANALYTICS_BQ_PROJECT"], dataset=os.environ["VIDEO_ANALYTICS_BQ_DATASET"]
    )


def standard(field_type: str) -> str:
    """BigQuery reports legacy type names (INTEGER, FLOAT), the emulator standard ones."""
    return {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}.get(field_type, field_type)


def table_rows(client, table_id: str) -> pl.DataFrame:
    return bq.query_frame(client, f"SELECT * FROM `{table_id}` ORDER BY day, video_id")


def partition_row_counts(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    return {
        e.materialization.partition: e.materialization.metadata["dagster/row_count"].value
        for e in result.get_asset_materialization_events()
    }


def test_days_land_in_a_day_partitioned_table_and_a_rerun_replaces_them(bigquery):
    client, project, dataset = bigquery
    table_id = f"{project}.{dataset}.stats"
    result = dg.materialize([stats], resources={"io_manager": manager()}, tags=TAGS)
    table = client.get_table(table_id)
    assert table.time_partitioning.type_ == "DAY" and table.time_partitioning.field == "day"
    schema = {f.name: (standard(f.field_type), f.mode) for f in table.schema}
    assert schema == {
        "day": ("DATE", "REQUIRED"),
        "video_id": ("STRING", "REQUIRED"),
        "views": ("INT64", "NULLABLE"),
        "view_through_rate": ("FLOAT64", "NULLABLE"),
        "video_created_time": ("TIMESTAMP", "NULLABLE"),
        "video_tags": ("STRING", "REPEATED"),
    }
    first = table_rows(client, table_id)
    assert first["views"].to_list() == [1, 2, 3] and first["video_tags"].to_list() == [["a"], [], ["b", "c"]]
    assert partition_row_counts(result) == {"2024-02-01": 2, "2024-02-02": 0, "2024-02-03": 1}
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["dagster/table_name"].value == table_id
    dg.materialize([stats], resources={"io_manager": manager()}, tags=TAGS)
    assert table_rows(client, table_id).equals(first)  # replaced, not appended
    assert [t.table_id for t in client.list_tables(f"{project}.{dataset}")] == ["stats"]  # staging dropped


def test_an_empty_day_clears_its_rows_and_leaves_the_others(bigquery):
    client, project, dataset = bigquery
    table_id = f"{project}.{dataset}.stats"
    dg.materialize([stats], resources={"io_manager": manager()}, tags=TAGS)
    config = {"ops": {"stats": {"config": {"empty_day": "2024-02-01"}}}}
    result = dg.materialize([stats], resources={"io_manager": manager()}, tags=TAGS, run_config=config)
    assert partition_row_counts(result) == {"2024-02-01": 0, "2024-02-02": 0, "2024-02-03": 1}
    assert table_rows(client, table_id)["day"].to_list() == [date(2024, 2, 3)]


def test_downstream_reads_its_days_through_load_input(bigquery):
    dg.materialize([stats], resources={"io_manager": manager()}, tags=TAGS)
    one_day = {**TAGS, "dagster/asset_partition_range_end": "2024-02-01"}
    result = dg.materialize(
        [stats, downstream], selection=[downstream], resources={"io_manager": manager()}, tags=one_day
    )
    assert result.get_asset_materialization_events()[0].materialization.metadata["rows"].value == 2


def test_unsupported_type_is_a_clear_error():
    with pytest.raises(TypeError, match="no BigQuery type for polars Object"):
        bq.bigquery_schema(pl.DataFrame({"x": [object()]}, schema={"x": pl.Object}))


def test_storage_setting_selects_bigquery_for_dailymotion(monkeypatch):
    monkeypatch.setenv("VIDEO_ANALYTICS_BQ_PROJECT", "proj")
    monkeypatch.setenv("VIDEO_ANALYTICS_BQ_DATASET", "ds")
    monkeypatch.setenv("VIDEO_ANALYTICS_BQ_DATASET", "ds")
    chosen = io_manager_for(Settings.from_env(storage="bigquery"), "dailymotion")
    assert isinstance(chosen, bq.BigQueryIOManager) and (chosen.project, chosen.dataset) == ("proj", "ds")
    monkeypatch.delenv("VIDEO_ANALYTICS_BQ_DATASET")
    with pytest.raises(SettingsError, match="VIDEO_ANALYTICS_BQ_DATASET"):
        io_manager_for(Settings.from_env(storage="bigquery"), "dailymotion")
    assert (
        type(io_manager_for(Settings.from_env(storage="parquet"), "dailymotion")).__name__
        == "ParquetLakeIOManager"
    )


def test_dailymotion_tables_land_in_bigquery_with_the_originals_types(dm, bigquery, tmp_path):
    from video_analytics_tests.dailymotion.test_sensor_e2e import Driver

    client, project, dataset = bigquery
    with dg.DagsterInstance.ephemeral() as instance:
        driver = Driver(instance, dm.resource(lookback_days=0), tmp_path, io_manager=manager())
        driver.request("2024-02-01", "2024-02-02")
        driver.until_done({"2024-02-01", "2024-02-02"})
    daily = client.get_table(f"{project}.{dataset}.dm_daily_video_stats")
    types = {f.name: (f.field_type, f.mode) for f in daily.schema}
    assert types["day"] == ("DATE", "REQUIRED") and types["video_id"] == ("STRING", "REQUIRED")
    assert types["video_tags"] == ("STRING", "REPEATED")
    assert types["video_created_time"] == ("TIMESTAMP", "NULLABLE") and standard(types["views"][0]) == "INT64"
    hourly = client.get_table(f"{project}.{dataset}.dm_hourly_reports")
    assert {f.name: f.field_type for f in hourly.schema}["hour"] == "TIMESTAMP"
    assert hourly.time_partitioning.field == "day"
    hourly_id = f"{project}.{dataset}.dm_hourly_reports"
    views = bq.query_frame(
        client, f"SELECT day, sum(views) AS views FROM `{hourly_id}` GROUP BY 1 ORDER BY 1"
    )
    truth = dm.sim.world.truth(date(2024, 2, 1), date(2024, 2, 2))
    assert views["views"].sum() == truth["VIEWS"].sum() and views.height == 2
    # dm_daily_video_stats was computed from dm_hourly_reports read back through load_input
    daily_views = bq.query_frame(
        client, f"SELECT sum(views) AS v FROM `{project}.{dataset}.dm_daily_video_stats`"
    )
    assert daily_views["v"].item() == views["views"].sum()


LIVE = os.environ.get("VIDEO_ANALYTICS_BQ_LIVE_PROJECT"), os.environ.get("VIDEO_ANALYTICS_BQ_LIVE_DATASET")


@pytest.mark.skipif(
    not all(LIVE), reason="set VIDEO_ANALYTICS_BQ_LIVE_PROJECT/_DATASET and Google credentials"
)
def test_live_round_trip():
    project, dataset = LIVE
    name = f"va_test_{uuid.uuid4().hex[:8]}"

    @dg.asset(
        name=name,
        partitions_def=stats.partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata={"partition_column": "day", "bigquery_required": ["day", "video_id"]},
    )
    def live() -> pl.DataFrame:
        return stats(StatsConfig())

    @dg.asset(
        partitions_def=stats.partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        ins={"rows": dg.AssetIn(name)},
    )
    def reader(rows: pl.DataFrame) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"rows": rows.height})

    io_manager = bq.BigQueryIOManager(project=project, dataset=dataset)
    try:
        for _ in range(2):  # twice: the second run must replace, not append
            dg.materialize([live], resources={"io_manager": io_manager}, tags=TAGS)
        result = dg.materialize(
            [live, reader], selection=[reader], resources={"io_manager": io_manager}, tags=TAGS
        )
        assert result.get_asset_materialization_events()[0].materialization.metadata["rows"].value == 3
    finally:
        with bq.open_client(project, None, None) as client:
            client.delete_table(f"{project}.{dataset}.{name}", not_found_ok=True)
