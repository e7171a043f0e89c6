"""The BigQuery IO manager at the client boundary (a recording fake client), plus a gated live test.

No BigQuery emulator handles partitioned tables, Parquet load jobs and DML, so CI checks what we send:
the table we create, each load job's destination (partition decorator), write disposition, schema and
source format, and the SQL we issue. `test_live_round_trip` runs the same path against real BigQuery
when VIDEO_ANALYTICS_BQ_LIVE_PROJECT / _DATASET and Google credentials are configured.
"""

from __future__ import annotations

import contextlib
import io
import os
import uuid
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl
import pyarrow as pa
import pytest
from google.cloud import bigquery

from video_analytics.dailymotion import definitions as dm_definitions
from video_analytics.settings import Settings, SettingsError
from video_analytics.storage import bigquery as bq

TAGS = {
    "dagster/asset_partition_range_start": "2024-02-01",
    "dagster/asset_partition_range_end": "2024-02-03",
}


class FakeJob:
    def __init__(self, rows: pa.Table | None = None) -> None:
        self.rows = rows

    def result(self):
        return self

    def to_arrow(self) -> pa.Table:
        return self.rows


class RecordingClient:
    """Records calls and keeps loaded partitions in memory, replacing them as WRITE_TRUNCATE would."""

    def __init__(self) -> None:
        self.tables: list[bigquery.Table] = []
        self.loads: list[tuple[str, bigquery.LoadJobConfig, pl.DataFrame]] = []
        self.queries: list[tuple[str, list]] = []
        self.partitions: dict[str, pl.DataFrame] = {}

    def create_table(self, table, exists_ok=False):
        assert exists_ok
        self.tables.append(table)

    def load_table_from_file(self, file, destination, job_config):
        frame = pl.read_parquet(io.BytesIO(file.read()))
        self.loads.append((destination, job_config, frame))
        assert job_config.write_disposition == bigquery.WriteDisposition.WRITE_TRUNCATE
        self.partitions[destination] = frame
        return FakeJob()

    def query(self, sql, job_config=None):
        params = list(job_config.query_parameters) if job_config else []
        self.queries.append((sql, params))
        if sql.startswith("DELETE"):
            return FakeJob()
        table = sql.split("`")[1]
        values = {p.name: p.value for p in params}
        frames = [
            f
            for dest, f in sorted(self.partitions.items())
            if dest.split("$")[0] == table
            and values["first_day"].strftime("%Y%m%d")
            <= dest.split("$")[1]
            <= values["last_day"].strftime("%Y%m%d")
        ]
        return FakeJob(pl.concat(frames).to_arrow())


@pytest.fixture
def fake(monkeypatch):
    client = RecordingClient()

    @contextlib.contextmanager
    def open_client(project, location, credentials):
        assert project == "proj"
        yield client

    monkeypatch.setattr(bq, "open_client", open_client)
    return client


@dg.asset(
    partitions_def=dg.DailyPartitionsDefinition("2024-01-01", timezone="UTC"),
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={"partition_column": "day", "bigquery_required": ["day", "video_id"]},
)
def stats() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "day": [date(2024, 2, 1), date(2024, 2, 1), date(2024, 2, 3)],
            "video_id": ["x1", "x2", "x1"],
            "views": [1, 2, 3],
            "view_through_rate": [0.5, None, 1.0],
            "video_created_time": [datetime(2024, 1, 1, tzinfo=UTC)] * 3,
            "video_tags": [["a"], [], ["b", "c"]],
        }
    )


@dg.asset(partitions_def=stats.partitions_def, backfill_policy=dg.BackfillPolicy.single_run())
def downstream(stats: pl.DataFrame) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": stats.height})


def manager() -> bq.BigQueryIOManager:
    return bq.BigQueryIOManager(project="proj", dataset="ds")


def test_partitions_are_loaded_with_write_truncate_on_the_partition_decorator(fake):
    dg.materialize([stats], resources={"io_manager": manager()}, tags=TAGS)
    [table] = fake.tables
    assert table.table_id == "stats" and table.dataset_id == "ds" and table.project == "proj"
    assert table.time_partitioning.type_ == "DAY" and table.time_partitioning.field == "day"
    schema = {f.name: (f.field_type, f.mode) for f in table.schema}
    assert schema == {
        "day": ("DATE", "REQUIRED"),
        "video_id": ("STRING", "REQUIRED"),
        "views": ("INT64", "NULLABLE"),
        "view_through_rate": ("FLOAT64", "NULLABLE"),
        "video_created_time": ("TIMESTAMP", "NULLABLE"),
        "video_tags": ("STRING", "REPEATED"),
    }
    assert [dest for dest, _, _ in fake.loads] == ["proj.ds.stats$20240201", "proj.ds.stats$20240203"]
    for _, config, _frame in fake.loads:
        assert config.source_format == bigquery.SourceFormat.PARQUET
        assert config.write_disposition == bigquery.WriteDisposition.WRITE_TRUNCATE
        assert [f.name for f in config.schema] == list(schema)
        assert config.time_partitioning.field == "day"
        assert config.parquet_options.enable_list_inference is True
    assert fake.loads[0][2]["video_id"].to_list() == ["x1", "x2"]
    # 2024-02-02 has no rows: its old rows are deleted, with a parameter, not string formatting.
    [(sql, params)] = fake.queries
    assert sql == "DELETE FROM `proj.ds.stats` WHERE `day` = @day"
    assert [(p.name, p.type_, p.value) for p in params] == [("day", "DATE", date(2024, 2, 2))]


def test_rerun_replaces_partitions_and_downstream_reads_the_range_with_parameters(fake):
    dg.materialize([stats], resources={"io_manager": manager()}, tags=TAGS)
    dg.materialize([stats], resources={"io_manager": manager()}, tags=TAGS)
    assert sum(f.height for f in fake.partitions.values()) == 3  # replaced, not appended
    result = dg.materialize(
        [stats, downstream], selection=[downstream], resources={"io_manager": manager()}, tags=TAGS
    )
    sql, params = fake.queries[-1]
    assert sql == "SELECT * FROM `proj.ds.stats` WHERE `day` BETWEEN @first_day AND @last_day"
    assert [(p.name, p.value) for p in params] == [
        ("first_day", date(2024, 2, 1)),
        ("last_day", date(2024, 2, 3)),
    ]
    assert result.get_asset_materialization_events()[0].materialization.metadata["rows"].value == 3


def test_unsupported_type_is_a_clear_error():
    with pytest.raises(TypeError, match="no BigQuery type for polars Object"):
        bq.bigquery_schema(pl.DataFrame({"x": [object()]}, schema={"x": pl.Object}))


def test_storage_setting_selects_bigquery_for_dailymotion(monkeypatch):
    monkeypatch.setenv("VIDEO_ANALYTICS_BQ_PROJECT", "proj")
    monkeypatch.setenv("VIDEO_ANALYTICS_BQ_DATASET", "ds")
    chosen = dm_definitions.io_manager(Settings(storage="bigquery"))
    assert isinstance(chosen, bq.BigQueryIOManager) and (chosen.project, chosen.dataset) == ("proj", "ds")
    monkeypatch.delenv("VIDEO_ANALYTICS_BQ_DATASET")
    with pytest.raises(SettingsError, match="VIDEO_ANALYTICS_BQ_DATASET"):
        dm_definitions.io_manager(Settings(storage="bigquery"))
    assert type(dm_definitions.io_manager(Settings(storage="parquet"))).__name__ == "ParquetLakeIOManager"


def test_dailymotion_tables_land_in_bigquery_with_the_originals_types(dm, fake, tmp_path):
    from video_analytics_tests.dailymotion.test_sensor_e2e import Driver

    with dg.DagsterInstance.ephemeral() as instance:
        driver = Driver(instance, dm.resource(lookback_days=0), tmp_path, io_manager=manager())
        driver.request("2024-02-01", "2024-02-02")
        driver.until_done({"2024-02-01", "2024-02-02"})
    assert sorted(dest for dest, _, _ in fake.loads) == [
        "proj.ds.dm_daily_video_stats$20240201",
        "proj.ds.dm_daily_video_stats$20240202",
        "proj.ds.dm_hourly_reports$20240201",
        "proj.ds.dm_hourly_reports$20240202",
    ]
    daily = next(t for t in fake.tables if t.table_id == "dm_daily_video_stats")
    types = {f.name: (f.field_type, f.mode) for f in daily.schema}
    assert types["day"] == ("DATE", "REQUIRED") and types["video_id"] == ("STRING", "REQUIRED")
    assert types["video_tags"] == ("STRING", "REPEATED")
    assert types["video_created_time"] == ("TIMESTAMP", "NULLABLE") and types["views"] == (
        "INT64",
        "NULLABLE",
    )
    hourly = next(t for t in fake.tables if t.table_id == "dm_hourly_reports")
    assert {f.name: f.field_type for f in hourly.schema}["hour"] == "TIMESTAMP"
    sql, _ = fake.queries[-1]
    assert sql == "SELECT * FROM `proj.ds.dm_hourly_reports` WHERE `day` BETWEEN @first_day AND @last_day"
    loaded = pl.concat(f for d, _, f in fake.loads if "dm_hourly_reports" in d)
    assert loaded["views"].sum() == dm.sim.world.truth(date(2024, 2, 1), date(2024, 2, 2))["VIEWS"].sum()


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
        return stats()

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
