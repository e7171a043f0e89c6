"""DuckDB views over the Parquet lake: discovery, counts, idempotent rebuilds, S3 via fsspec."""

import shutil
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from video_analytics.storage.parquet import lake_path, write_frame_atomic
from video_analytics.storage.warehouse import build_warehouse, connect_warehouse, run_sql

DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


def daily(day: str, n: int) -> pl.DataFrame:
    return pl.DataFrame({"date": [date.fromisoformat(day)] * n, "views": list(range(n))})


def make_lake(root: str, options: dict[str, str] | None = None) -> None:
    """brightcove/daily (3 days, 1+2+3 rows, one day with an extra column), tmdb/titles (unpartitioned)."""
    for i, day in enumerate(DAYS, start=1):
        frame = daily(day, i)
        frame = frame.with_columns(pl.lit("web").alias("device")) if i == 3 else frame
        write_frame_atomic(lake_path(root, ["brightcove", "daily"], day), frame, options)
    titles = pl.DataFrame({"id": [1, 2], "title": ["a", "b"]})
    write_frame_atomic(lake_path(root, ["tmdb", "titles"], None), titles, options)


def test_build_counts_and_queries(tmp_path: Path) -> None:
    lake, db = tmp_path / "lake", str(tmp_path / "wh" / "warehouse.duckdb")
    make_lake(str(lake))
    assert build_warehouse(str(lake), db) == {"brightcove__daily": 6, "tmdb__titles": 2}
    counts = run_sql(db, "SELECT count(*) AS n FROM brightcove__daily WHERE date >= DATE '2024-01-02'")
    assert counts.item() == 5
    devices = run_sql(db, "SELECT device FROM brightcove__daily WHERE device IS NOT NULL")
    assert devices.get_column("device").to_list() == ["web"] * 3  # union_by_name over drifting schemas


def test_rebuild_is_idempotent_and_sees_new_partitions(tmp_path: Path) -> None:
    lake, db = tmp_path / "lake", str(tmp_path / "warehouse.duckdb")
    make_lake(str(lake))
    first = build_warehouse(str(lake), db)
    assert build_warehouse(str(lake), db) == first
    write_frame_atomic(lake_path(str(lake), ["brightcove", "daily"], "2024-01-04"), daily("2024-01-04", 4))
    assert build_warehouse(str(lake), db)["brightcove__daily"] == 10


def test_vanished_table_view_dropped_but_foreign_views_kept(tmp_path: Path) -> None:
    lake, db = tmp_path / "lake", str(tmp_path / "warehouse.duckdb")
    make_lake(str(lake))
    extra = [
        "CREATE OR REPLACE VIEW views_per_day AS SELECT date, sum(views) FROM brightcove__daily GROUP BY 1"
    ]
    build_warehouse(str(lake), db, extra_sql=extra)
    shutil.rmtree(lake / "tmdb")
    assert build_warehouse(str(lake), db) == {"brightcove__daily": 6}
    views = set(
        run_sql(db, "SELECT view_name FROM duckdb_views() WHERE NOT internal").get_column("view_name")
    )
    assert views == {"brightcove__daily", "views_per_day"}
    assert run_sql(db, "SELECT count(*) FROM views_per_day").item() == 3


def test_nested_tables_do_not_swallow_each_other(tmp_path: Path) -> None:
    lake, db = tmp_path / "lake", str(tmp_path / "warehouse.duckdb")
    write_frame_atomic(lake_path(str(lake), ["a"], "2024-01-01"), daily("2024-01-01", 1))
    write_frame_atomic(lake_path(str(lake), ["a", "b"], "2024-01-01"), daily("2024-01-01", 2))
    assert build_warehouse(str(lake), db) == {"a": 1, "a__b": 2}


def test_s3_lake_through_registered_fsspec(s3_endpoint: str, s3_bucket: str, tmp_path: Path) -> None:
    root, options = f"s3://{s3_bucket}/lake", {"endpoint_url": s3_endpoint}
    make_lake(root, options)
    db = str(tmp_path / "warehouse.duckdb")
    assert build_warehouse(root, db, options) == {"brightcove__daily": 6, "tmdb__titles": 2}
    # A later process re-registers s3fs from the root recorded in the file.
    assert run_sql(db, "SELECT count(*) FROM tmdb__titles", storage_options=options).item() == 2
    con = connect_warehouse(db, root, options)
    try:
        assert con.sql("SELECT max(date) FROM brightcove__daily").fetchall() == [(date(2024, 1, 3),)]
    finally:
        con.close()
    with pytest.raises(duckdb.Error), duckdb.connect(db) as plain:  # documented limitation
        plain.sql("SELECT count(*) FROM tmdb__titles").fetchall()


def test_leftover_temp_files_are_not_read(tmp_path: Path) -> None:
    lake, db = tmp_path / "lake", str(tmp_path / "lake" / "warehouse.duckdb")
    make_lake(str(lake))
    before = build_warehouse(str(lake), db)
    day = lake / "brightcove" / "daily" / "date=2024-01-03"
    shutil.copyfile(day / "part-0.parquet", day / ".tmp-x.parquet")  # a crash's leftover, complete
    (day / ".tmp-y.parquet").write_bytes(b"")  # and an empty one, which DuckDB cannot read at all
    (lake / "tmdb" / "titles" / ".tmp-z.parquet").write_bytes(b"")
    assert build_warehouse(str(lake), db) == before
    assert run_sql(db, "SELECT count(*) FROM brightcove__daily").item() == 6


def test_a_copied_lake_s_warehouse_reads_the_copy(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    make_lake(str(lake))
    build_warehouse(str(lake), str(lake / "warehouse.duckdb"))
    copy = tmp_path / "moved" / "lake"
    shutil.copytree(lake, copy)
    shutil.rmtree(lake)  # the original is gone: only paths relative to the warehouse file can work
    write_frame_atomic(lake_path(str(copy), ["brightcove", "daily"], "2024-01-04"), daily("2024-01-04", 4))
    assert run_sql(str(copy / "warehouse.duckdb"), "SELECT count(*) FROM brightcove__daily").item() == 10
    stored = duckdb.connect(str(copy / "warehouse.duckdb"), read_only=True)
    try:
        assert stored.execute("SELECT lake_root FROM _video_analytics_lake").fetchall() == [(".",)]
    finally:
        stored.close()


def test_a_query_waits_for_a_rebuild_s_lock_and_other_errors_fail_at_once(
    tmp_path: Path, monkeypatch
) -> None:
    from video_analytics.storage import warehouse

    lake, db = tmp_path / "lake", str(tmp_path / "lake" / "warehouse.duckdb")
    make_lake(str(lake))
    build_warehouse(str(lake), db)
    real_connect, attempts = duckdb.connect, []

    def busy_twice(path, read_only=False):
        attempts.append(path)
        if len(attempts) <= 2:  # what DuckDB says while another process writes the file
            raise duckdb.IOException(
                f'IO Error: Could not set lock on file "{path}": Conflicting lock is held'
            )
        return real_connect(path, read_only=read_only)

    monkeypatch.setattr(warehouse.duckdb, "connect", busy_twice)
    monkeypatch.setattr(warehouse.time, "sleep", lambda seconds: None)  # no wall-clock wait in a test
    assert run_sql(db, "SELECT count(*) FROM brightcove__daily").item() == 6
    assert len(attempts) == 3

    def broken(path, read_only=False):
        raise duckdb.IOException("IO Error: Permission denied")

    monkeypatch.setattr(warehouse.duckdb, "connect", broken)
    with pytest.raises(duckdb.IOException, match="Permission denied"):
        run_sql(db, "SELECT 1")
