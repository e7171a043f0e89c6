"""Per-partition operational metadata: a single-run backfill reports each day's own row count."""

from datetime import date

import dagster as dg
import polars as pl

from video_analytics.storage.parquet import ParquetLakeIOManager

DAYS = {"2024-01-01": 644, "2024-01-02": 939, "2024-01-03": 869}
TAGS = {
    "dagster/asset_partition_range_start": "2024-01-01",
    "dagster/asset_partition_range_end": "2024-01-03",
}


@dg.asset(
    partitions_def=dg.DailyPartitionsDefinition("2024-01-01", timezone="UTC"),
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def events() -> pl.DataFrame:
    return pl.concat(
        pl.DataFrame({"date": [date.fromisoformat(day)] * rows, "n": list(range(rows))})
        for day, rows in DAYS.items()
    )


def test_a_three_day_backfill_shows_each_day_s_rows_not_the_run_s(tmp_path):
    result = dg.materialize(
        [events], resources={"io_manager": ParquetLakeIOManager(root=str(tmp_path))}, tags=TAGS
    )
    shown = {
        e.materialization.partition: e.materialization.metadata["dagster/row_count"].value
        for e in result.get_asset_materialization_events()
    }
    assert shown == DAYS  # not 2,452 on every day
    on_disk = {
        day: pl.read_parquet(tmp_path / "events" / f"date={day}" / "part-0.parquet").height for day in DAYS
    }
    assert on_disk == shown
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["dagster/table_name"].value == "events"
    assert metadata["dagster/uri"].value == f"file://{tmp_path}/events"


def test_a_single_day_run_keeps_its_row_count(tmp_path):
    one = {**TAGS, "dagster/asset_partition_range_end": "2024-01-01"}

    @dg.asset(
        name="events", partitions_def=events.partitions_def, backfill_policy=dg.BackfillPolicy.single_run()
    )
    def one_day() -> pl.DataFrame:
        return events().filter(pl.col("date") == date(2024, 1, 1))

    result = dg.materialize(
        [one_day], resources={"io_manager": ParquetLakeIOManager(root=str(tmp_path))}, tags=one
    )
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["dagster/row_count"].value == 644
