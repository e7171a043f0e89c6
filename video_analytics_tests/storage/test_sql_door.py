"""`video-analytics sql` is a read-only door: queries over the lake work, nothing else gets through.

Each hostile statement of the report runs against a real warehouse over a real lake (local, and S3 on
moto); afterwards every file of the lake and the warehouse is byte-for-byte what it was.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from video_analytics import cli
from video_analytics.storage.parquet import lake_path, write_frame_atomic
from video_analytics.storage.sql_door import SqlError, open_read_only, query
from video_analytics.storage.warehouse import build_warehouse

DAYS = ["2024-01-01", "2024-01-02"]


def make_warehouse(root: Path) -> tuple[Path, str]:
    """A local lake (brightcove/daily: 2 days of 3 rows) with its warehouse inside, as the demo has it."""
    lake = root / "data"
    for day in DAYS:
        frame = pl.DataFrame({"date": [date.fromisoformat(day)] * 3, "views": [1, 2, 3]})
        write_frame_atomic(lake_path(str(lake), ["brightcove", "daily"], day), frame)
    db = str(lake / "warehouse.duckdb")
    assert build_warehouse(str(lake), db) == {"brightcove__daily": 6}
    (root / "outside.csv").write_text("secret\n1\n")
    return lake, db


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def warehouse(tmp_path: Path) -> tuple[Path, Path, str]:
    lake, db = make_warehouse(tmp_path)
    return tmp_path, lake, db


def test_queries_over_the_lake_work(warehouse: tuple[Path, Path, str]) -> None:
    _, lake, db = warehouse
    assert query(db, "SELECT sum(views) FROM brightcove__daily").item() == 12
    assert "brightcove__daily" in query(db, "SHOW TABLES")["name"].to_list()
    assert query(db, "DESCRIBE brightcove__daily")["column_name"].to_list() == ["date", "views"]
    assert query(db, "SUMMARIZE brightcove__daily").height == 2
    plan = query(db, "EXPLAIN ANALYZE SELECT count(*) FROM brightcove__daily")
    assert plan["explain_key"].to_list() == ["analyzed_plan"]
    assert query(db, "SELECT 1; FROM brightcove__daily WHERE views = 3").height == 2  # the last result
    path = lake / "brightcove" / "daily" / "date=2024-01-01" / "part-0.parquet"
    assert query(db, f"SELECT count(*) FROM read_parquet('{path}')").item() == 3


def hostile(tmp: Path, lake: Path, db: str) -> list[str]:
    partition = lake / "brightcove" / "daily" / "date=2024-01-01" / "part-0.parquet"
    return [
        f"COPY (SELECT * FROM brightcove__daily) TO '{partition}' (FORMAT parquet)",
        f"COPY (SELECT 1) TO '{db}'",
        f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{lake}/x.csv'",
        f"COPY (PIVOT brightcove__daily ON views) TO '{lake}/p.csv'",
        f"/* harmless */ SELECT 1; COPY (SELECT 1) TO '{lake}/y.csv'",
        f"ATTACH '{tmp}/other.duckdb' AS other",
        f"EXPORT DATABASE '{tmp}/dump'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "PRAGMA enable_profiling",
        "CREATE TABLE t AS SELECT 1",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"SELECT * FROM read_csv('{tmp}/outside.csv')",
        f"SELECT * FROM read_csv('{lake}/../outside.csv')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_text('/etc/hostname')",
    ]


def test_hostile_statements_are_refused_and_change_nothing(warehouse: tuple[Path, Path, str]) -> None:
    tmp, lake, db = warehouse
    before = snapshot(tmp)
    for sql in hostile(tmp, lake, db):
        with pytest.raises(SqlError) as refused:
            query(db, sql)
        message = str(refused.value)
        assert "\n" not in message
        assert "read-only" in message or "reads only the lake" in message, (sql, message)
    assert snapshot(tmp) == before
    assert query(db, "SELECT count(*) FROM brightcove__daily").item() == 6


def test_the_connection_itself_cannot_reach_outside_the_lake(warehouse: tuple[Path, Path, str]) -> None:
    """The second and third locks hold on their own, should a statement ever slip past the parser check."""
    tmp, _, db = warehouse
    con, roots = open_read_only(db)
    try:
        assert roots == [str(tmp / "data") + "/"]
        for sql in (f"COPY (SELECT 1) TO '{tmp}/out.csv'", f"SELECT * FROM read_csv('{tmp}/outside.csv')"):
            with pytest.raises(duckdb.PermissionException):
                con.sql(sql).fetchall()
        with pytest.raises(duckdb.InvalidInputException, match="locked"):
            con.execute("SET enable_external_access = true")
    finally:
        con.close()
    assert not (tmp / "out.csv").exists()


def test_refusals_say_what_to_do_instead(warehouse: tuple[Path, Path, str]) -> None:
    tmp, lake, db = warehouse
    with pytest.raises(SqlError, match=r"COPY statements are refused.*video-analytics export"):
        query(db, f"COPY (SELECT 1) TO '{lake}/x.csv'")
    with pytest.raises(SqlError, match=r"Permission Error.*reads only the lake: .*/data/"):
        query(db, f"SELECT * FROM read_csv('{tmp}/outside.csv')")


def test_cli_prints_the_database_message_on_one_line_and_exits_2(
    warehouse: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, lake, db = warehouse
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", str(lake))
    assert cli.main(["sql", "SELEC count(*) FROM brightcove__daily"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("video-analytics sql: Parser Error: syntax error at or near")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert cli.main(["sql", "SELECT * FROM brightcove__dialy", "--database", db]) == 2
    err = capsys.readouterr().err
    assert "Catalog Error: Table with name brightcove__dialy does not exist" in err
    assert 'Did you mean "brightcove__daily"' in err and err.count("\n") == 1
    assert cli.main(["sql", "SELECT sum(views) AS total FROM brightcove__daily"]) == 0
    assert "12" in capsys.readouterr().out


def test_a_file_that_is_not_a_warehouse_is_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "warehouse.duckdb"
    fake.write_bytes(b"oops")
    with pytest.raises(SqlError, match=r"warehouse.duckdb: .*not a valid DuckDB database file"):
        query(str(fake), "SELECT 1")


def test_s3_lake_reads_through_the_door_but_not_beside_it(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    root, options = f"s3://{s3_bucket}/lake", {"endpoint_url": s3_endpoint}
    for day in DAYS:
        frame = pl.DataFrame({"date": [date.fromisoformat(day)] * 2, "views": [5, 6]})
        write_frame_atomic(lake_path(root, ["brightcove", "daily"], day), frame, options)
    outside = f"s3://{s3_bucket}/private/x.parquet"
    write_frame_atomic(outside, pl.DataFrame({"secret": [1]}), options)
    db = str(tmp_path / "warehouse.duckdb")
    build_warehouse(root, db, options)
    assert query(db, "SELECT sum(views) FROM brightcove__daily", storage_options=options).item() == 22
    with pytest.raises(SqlError, match="reads only the lake"):
        query(db, f"SELECT * FROM read_parquet('{outside}')", storage_options=options)
    with pytest.raises(SqlError, match="COPY statements are refused"):
        query(db, f"COPY (SELECT 1) TO '{root}/brightcove/daily/date=2024-01-01/part-1.parquet'")
