"""ParquetLakeIOManager: per-day files, single-run backfills, atomic replacement, local and S3."""

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import fsspec
import polars as pl
import pytest

from video_analytics.partitions import daily_partitions
from video_analytics.storage import parquet
from video_analytics.storage.parquet import ParquetLakeIOManager, lake_path, read_table, write_frame_atomic

PARTS = daily_partitions("2024-01-01")
KEY = ["brightcove", "events"]
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
Builder = Callable[[Sequence[str]], pl.DataFrame]


def rows(days: Sequence[str], per_day: int = 2) -> pl.DataFrame:
    data = [
        {"date": date.fromisoformat(d), "video_id": f"v{i}", "views": i} for d in days for i in range(per_day)
    ]
    return pl.DataFrame(data, schema={"date": pl.Date, "video_id": pl.String, "views": pl.Int64})


def events_asset(build: Builder, **kwargs: Any) -> dg.AssetsDefinition:
    @dg.asset(
        name="events",
        key_prefix=["brightcove"],
        partitions_def=PARTS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        **kwargs,
    )
    def events(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return build(context.partition_keys)

    return events


def run(
    assets: list[Any],
    root: str,
    key: str | None = None,
    span: tuple[str, str] | None = None,
    options: dict[str, str] | None = None,
    **kwargs: Any,
) -> dg.ExecuteInProcessResult:
    tags = {RANGE_START: span[0], RANGE_END: span[1]} if span else None
    manager = ParquetLakeIOManager(root=root, storage_options=options or {})
    with dg.instance_for_test() as instance:
        return dg.materialize(
            assets,
            instance=instance,
            resources={"io_manager": manager},
            partition_key=key,
            tags=tags,
            **kwargs,
        )


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_lake_path_layout() -> None:
    assert (
        lake_path("s3://b/lake", ["a", "b"], "2024-01-02") == "s3://b/lake/a/b/date=2024-01-02/part-0.parquet"
    )
    assert lake_path("/data/", ["a"], None) == "/data/a/part-0.parquet"


def test_single_partition_round_trip(tmp_path: Path) -> None:
    seen: dict[str, pl.DataFrame] = {}

    single_run = dg.BackfillPolicy.single_run()

    @dg.asset(partitions_def=PARTS, ins={"events": dg.AssetIn(key=KEY)}, backfill_policy=single_run)
    def daily_copy(events: pl.DataFrame) -> pl.DataFrame:
        seen["events"] = events
        return events

    assets = [events_asset(rows), daily_copy]
    assert run(assets, str(tmp_path), key="2024-01-02").success
    assert files_under(tmp_path) == [
        "brightcove/events/date=2024-01-02/part-0.parquet",
        "daily_copy/date=2024-01-02/part-0.parquet",
    ]
    assert seen["events"].equals(rows(["2024-01-02"]))
    assert read_table(str(tmp_path), "brightcove/events").equals(rows(["2024-01-02"]))


def test_single_run_backfill_writes_one_file_per_day(tmp_path: Path) -> None:
    result = run([events_asset(rows)], str(tmp_path), span=("2024-01-01", "2024-01-05"))
    days = [f"2024-01-0{i}" for i in range(1, 6)]
    assert files_under(tmp_path) == [f"brightcove/events/date={d}/part-0.parquet" for d in days]
    for day in days:
        frame = pl.read_parquet(lake_path(str(tmp_path), KEY, day))
        assert frame.get_column("date").to_list() == [date.fromisoformat(day)] * 2
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["partitions_written"].value == 5
    assert metadata["rows_per_partition"].value == dict.fromkeys(days, 2)


def test_rerun_replaces_partition(tmp_path: Path) -> None:
    asset = events_asset(rows)
    for _ in range(2):
        assert run([asset], str(tmp_path), key="2024-01-03").success
    frame = read_table(str(tmp_path), KEY)
    assert frame.height == 2 and not frame.is_duplicated().any()


def test_empty_partition_still_gets_a_file(tmp_path: Path) -> None:
    run([events_asset(rows)], str(tmp_path), span=("2024-01-01", "2024-01-03"))
    sparse = events_asset(lambda keys: rows([k for k in keys if k != "2024-01-02"]))
    run([sparse], str(tmp_path), span=("2024-01-01", "2024-01-03"))
    empty = pl.read_parquet(lake_path(str(tmp_path), KEY, "2024-01-02"))
    assert empty.height == 0 and empty.schema == rows([]).schema  # stale rows gone, schema kept


def test_rows_outside_run_partitions_fail_and_write_nothing(tmp_path: Path) -> None:
    leaky = events_asset(lambda keys: rows(["2023-12-31", *keys, "2024-01-09"]))
    with pytest.raises(ValueError, match="outside this run's partitions") as failure:
        run([leaky], str(tmp_path), span=("2024-01-01", "2024-01-02"))
    message = str(failure.value)
    assert "brightcove/events" in message and "2023-12-31" in message and "2024-01-09" in message
    assert files_under(tmp_path) == []


def test_missing_partition_column_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="partition column 'date' is missing"):
        run([events_asset(lambda keys: rows(keys).drop("date"))], str(tmp_path), key="2024-01-01")


@pytest.mark.parametrize(
    "to_day",
    [
        pl.col("date").dt.strftime("%Y-%m-%d"),
        pl.col("date").cast(pl.Datetime("us")) + pl.duration(hours=23),
        pl.col("date").cast(pl.Datetime("us", "UTC")),
    ],
    ids=["iso-string", "datetime", "datetime-utc"],
)
def test_custom_partition_column_types(tmp_path: Path, to_day: pl.Expr) -> None:
    def build(keys: Sequence[str]) -> pl.DataFrame:
        return rows(keys).with_columns(to_day.alias("day")).drop("date")

    asset = events_asset(build, metadata={"partition_column": "day"})
    assert run([asset], str(tmp_path), span=("2024-01-01", "2024-01-02")).success
    assert pl.read_parquet(lake_path(str(tmp_path), KEY, "2024-01-02")).height == 2


def _window_consumer(seen: dict[str, pl.DataFrame], **metadata: Any) -> dg.AssetsDefinition:
    mapping = dg.TimeWindowPartitionMapping(start_offset=-3)

    @dg.asset(
        partitions_def=PARTS,
        ins={"events": dg.AssetIn(key=KEY, partition_mapping=mapping, metadata=metadata)},
    )
    def four_day_window(context: dg.AssetExecutionContext, events: pl.DataFrame) -> pl.DataFrame:
        seen["events"] = events
        return events.filter(pl.col("date") == date.fromisoformat(context.partition_key))

    return four_day_window


def test_downstream_gets_many_partitions_as_one_frame(tmp_path: Path) -> None:
    upstream, seen = events_asset(rows), {}
    run([upstream], str(tmp_path), span=("2024-01-01", "2024-01-04"))
    assert run(
        [upstream, _window_consumer(seen)], str(tmp_path), key="2024-01-04", selection=["four_day_window"]
    )
    assert (
        seen["events"]
        .sort("date", "video_id")
        .equals(rows(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]))
    )


def test_missing_upstream_partition(tmp_path: Path) -> None:
    upstream, seen = events_asset(rows), {}
    run([upstream], str(tmp_path), span=("2024-01-03", "2024-01-04"))
    with pytest.raises(FileNotFoundError) as failure:
        run(
            [upstream, _window_consumer(seen)], str(tmp_path), key="2024-01-04", selection=["four_day_window"]
        )
    message = str(failure.value)
    assert "date=2024-01-01/part-0.parquet" in message and "materialize" in message
    tolerant = _window_consumer(seen, allow_missing_partitions=True)
    assert run([upstream, tolerant], str(tmp_path), key="2024-01-04", selection=["four_day_window"]).success
    assert seen["events"].height == 4


def test_lake_table_metadata_names_the_folder_for_writers_and_readers(tmp_path: Path) -> None:
    upstream, seen = events_asset(rows, metadata={"lake_table": "fact_events"}), {}
    written = run([upstream], str(tmp_path), span=("2024-01-01", "2024-01-04"))
    assert files_under(tmp_path) == [f"fact_events/date=2024-01-0{d}/part-0.parquet" for d in range(1, 5)]
    event = written.get_asset_materialization_events()[0].materialization
    assert event.metadata["path"].value == f"{tmp_path}/fact_events"
    # Another run loads the upstream from the lake: the reader must find the folder the writer chose.
    consumer = _window_consumer(seen)
    assert run([upstream, consumer], str(tmp_path), key="2024-01-04", selection=["four_day_window"]).success
    assert seen["events"].sort("date", "video_id").equals(rows([f"2024-01-0{d}" for d in range(1, 5)]))
    assert (tmp_path / "four_day_window" / "date=2024-01-04" / "part-0.parquet").exists()
    assert not (tmp_path / "brightcove").exists()


def test_lake_table_in_one_run_unpartitioned(tmp_path: Path) -> None:
    @dg.asset(key_prefix=["tmdb"], metadata={"lake_table": "dim/titles"})
    def titles() -> pl.DataFrame:
        return pl.DataFrame({"id": [1, 2, 3]})

    @dg.asset(ins={"titles": dg.AssetIn(key=["tmdb", "titles"])}, metadata={"lake_table": "title_total"})
    def title_count(titles: pl.DataFrame) -> pl.DataFrame:
        return pl.DataFrame({"n": [titles["id"].sum()]})

    assert run([titles, title_count], str(tmp_path)).success
    assert files_under(tmp_path) == ["dim/titles/part-0.parquet", "title_total/part-0.parquet"]
    assert read_table(str(tmp_path), "title_total").item() == 6


@pytest.mark.parametrize("folder", ["../escape", "a//b", "/"])
def test_lake_table_must_be_a_relative_folder(tmp_path: Path, folder: str) -> None:
    @dg.asset(metadata={"lake_table": folder})
    def titles() -> pl.DataFrame:
        return pl.DataFrame({"id": [1]})

    with pytest.raises(ValueError, match="is not a relative folder name"):
        run([titles], str(tmp_path))
    assert files_under(tmp_path) == []


def test_unpartitioned_round_trip_and_metadata(tmp_path: Path) -> None:
    @dg.asset(key_prefix=["tmdb"])
    def titles() -> pl.DataFrame:
        return pl.DataFrame({"id": [1, 2, 3], "title": ["a", "b", "c"]})

    @dg.asset(ins={"titles": dg.AssetIn(key=["tmdb", "titles"])})
    def title_count(titles: pl.DataFrame) -> pl.DataFrame:
        return pl.DataFrame({"n": [titles.height]})

    result = run([titles, title_count], str(tmp_path))
    assert files_under(tmp_path) == ["title_count/part-0.parquet", "tmdb/titles/part-0.parquet"]
    assert read_table(str(tmp_path), "title_count").item() == 3
    event = result.get_asset_materialization_events()[0].materialization
    assert event.metadata["dagster/row_count"].value == 3
    schema = event.metadata["dagster/column_schema"].value
    assert [(c.name, c.type) for c in schema.columns] == [("id", "Int64"), ("title", "String")]
    assert event.metadata["path"].value == f"{tmp_path}/tmdb/titles"


def test_read_table_date_range(tmp_path: Path) -> None:
    run([events_asset(rows)], str(tmp_path), span=("2024-01-01", "2024-01-06"))
    frame = read_table(str(tmp_path), KEY, start="2024-01-02", end="2024-01-04")
    assert sorted({d.isoformat() for d in frame.get_column("date")}) == [
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    ]
    assert read_table(str(tmp_path), KEY).height == 12


def test_crash_mid_write_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = lake_path(str(tmp_path), KEY, "2024-01-01")
    write_frame_atomic(target, rows(["2024-01-01"]))

    def crash(src: str, dst: str) -> None:
        assert Path(src).exists()  # the temp file was fully written before the "crash"
        raise OSError("disk pulled")

    monkeypatch.setattr(parquet.os, "replace", crash)
    with pytest.raises(OSError, match="disk pulled"):
        write_frame_atomic(target, rows(["2024-01-01"], per_day=5))
    monkeypatch.undo()
    assert pl.read_parquet(target).height == 2
    assert files_under(tmp_path) == ["brightcove/events/date=2024-01-01/part-0.parquet"]  # no temp left


# --- S3 (moto) -----------------------------------------------------------------------------------


def test_s3_backfill_rerun_and_read(s3_endpoint: str, s3_bucket: str) -> None:
    root, options = f"s3://{s3_bucket}/lake", {"endpoint_url": s3_endpoint}
    asset, seen = events_asset(rows), {}
    run([asset], root, span=("2024-01-01", "2024-01-04"), options=options)
    run([asset], root, key="2024-01-02", options=options)  # replace, not append
    fs = fsspec.filesystem("s3", **options)
    assert len(fs.glob(f"{s3_bucket}/lake/brightcove/events/date=*/part-0.parquet")) == 4
    run(
        [asset, _window_consumer(seen)],
        root,
        key="2024-01-04",
        options=options,
        selection=["four_day_window"],
    )
    assert seen["events"].height == 8 and not seen["events"].is_duplicated().any()
    assert read_table(root, KEY, options, start="2024-01-03").height == 4


def test_s3_out_of_range_writes_nothing(s3_endpoint: str, s3_bucket: str) -> None:
    leaky = events_asset(lambda keys: rows([*keys, "2024-02-01"]))
    with pytest.raises(ValueError, match="2024-02-01"):
        run(
            [leaky],
            f"s3://{s3_bucket}/lake",
            span=("2024-01-01", "2024-01-03"),
            options={"endpoint_url": s3_endpoint},
        )
    assert fsspec.filesystem("s3", endpoint_url=s3_endpoint).find(s3_bucket) == []


def test_s3_endpoint_from_env(s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    root = f"s3://{s3_bucket}/lake"
    frame = rows(["2024-01-01"]).with_columns(pl.lit(datetime(2024, 1, 1)).alias("loaded_at"))
    write_frame_atomic(lake_path(root, ["t"], None), frame)
    assert read_table(root, "t").equals(frame)


def test_split_of_a_single_day_is_the_frame_itself() -> None:
    """One day's frame is written as it is (no per-row date formatting, no copy), others get nothing."""
    from video_analytics.storage.parquet import split_by_partition

    frame = pl.DataFrame({"date": [date(2024, 1, 2)] * 3, "v": [1, 2, 3]})
    files = split_by_partition(frame, "date", ["2024-01-02", "2024-01-03"])
    assert files["2024-01-02"] is frame and files["2024-01-03"].height == 0
    with pytest.raises(ValueError, match="rows dated 2024-01-02 fall outside"):
        split_by_partition(frame, "date", ["2024-01-03"])
