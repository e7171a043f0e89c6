"""The two things a new user runs after `make demo`: the demo itself and the CLI over its results."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from video_analytics import cli
from video_analytics_tests.support import DEMO_GROUP, free_port, graphql

pytestmark = pytest.mark.xdist_group(DEMO_GROUP)


@pytest.fixture(scope="module")
def demo(demo_run):
    """The session's one demo run (see conftest.py): (root, summary, printed output)."""
    return demo_run


def test_demo_writes_the_lake_the_warehouse_and_a_summary(demo):
    root, summary, output = demo
    assert summary["daily_video_metrics"]["partitions"] == 3
    assert summary["daily_video_metrics"]["rows"] > 0
    assert summary["cms_videos"]["rows"] > 0
    assert len(list((root / "data" / "daily_video_metrics").glob("date=*/part-0.parquet"))) == 3
    assert (root / "data" / "warehouse.duckdb").exists()
    assert "[1/" in output and "daily_video_metrics" in output and "video-analytics ui" in output
    # assets that write no table (the warehouse's views, the HTML report) show no row count, not 0
    assert summary["duckdb_warehouse"]["rows"] is None
    assert re.search(r"^video_performance_report\s+3\s+-\s+0$", output, re.M)


def test_demo_runs_are_recorded_in_the_instance_for_the_ui(demo):
    root, _, _ = demo
    os.environ["DAGSTER_HOME"] = str(root / "home")
    try:
        with dg.DagsterInstance.get() as instance:
            runs = instance.get_runs()
            assert len(runs) >= 2 and all(run.is_success for run in runs)
            assert instance.get_latest_materialization_event(dg.AssetKey("daily_video_metrics")) is not None
    finally:
        del os.environ["DAGSTER_HOME"]


def test_sql_queries_the_warehouse(demo, capsys):
    root, summary, _ = demo
    database = str(root / "data" / "warehouse.duckdb")
    assert cli.main(["sql", "SELECT count(*) AS n FROM daily_video_metrics", "--database", database]) == 0
    assert str(summary["daily_video_metrics"]["rows"]) in capsys.readouterr().out


def test_sql_without_a_warehouse_says_what_to_do(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", str(tmp_path / "empty_lake"))
    assert cli.main(["sql", "SELECT 1", "--database", str(tmp_path / "none.duckdb")]) == 2
    assert "materialize some assets" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_export_writes_one_channel_over_a_date_range(demo, monkeypatch, tmp_path, suffix):
    root, _, _ = demo
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", str(root / "data"))
    lake = pl.read_parquet(sorted((root / "data" / "daily_video_metrics").glob("date=*/part-0.parquet")))
    days = sorted(lake["date"].unique())
    out = tmp_path / f"out.{suffix}"
    args = ["export", "daily_video_metrics", str(out), "--start", str(days[1]), "--end", str(days[2])]
    assert cli.main([*args, "--channel", "research"]) == 0
    exported = pl.read_csv(out, try_parse_dates=True) if suffix == "csv" else pl.read_parquet(out)
    expected = lake.filter((pl.col("channel") == "research") & (pl.col("date") >= days[1]))
    assert exported.height == expected.height > 0
    assert exported["video_view"].sum() == expected["video_view"].sum()
    assert set(exported["channel"]) == {"research"}


def test_export_rejects_a_reversed_range(demo, monkeypatch, tmp_path, capsys):
    root, _, _ = demo
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", str(root / "data"))
    out = str(Path(tmp_path) / "x.csv")
    assert (
        cli.main(["export", "daily_video_metrics", out, "--start", "2025-02-01", "--end", "2025-01-01"]) == 2
    )
    assert "is after --end" in capsys.readouterr().err


ASSETS_QUERY = """
{
  assetNodes { assetKey { path } isPartitioned }
  assetOrError(assetKey: {path: ["daily_video_metrics"]}) {
    ... on Asset { assetMaterializations(limit: 10) { partition runId } }
  }
}
"""


def test_ui_graphql_shows_the_assets_and_the_demo_materializations(demo):
    """The Dagster webserver over the demo's instance: what a user sees after `video-analytics ui`."""
    root, _, _ = demo
    env = {**os.environ, "DAGSTER_HOME": str(root / "home"), "VIDEO_ANALYTICS_DATA_DIR": str(root / "data")}
    port = free_port()
    webserver = str(Path(sys.executable).with_name("dagster-webserver"))
    command = [webserver, "-m", "video_analytics.definitions", "-h", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(command, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        body = graphql(f"http://127.0.0.1:{port}/graphql", ASSETS_QUERY, server)
    finally:
        server.terminate()
        server.wait(timeout=30)
    nodes = {tuple(n["assetKey"]["path"]): n["isPartitioned"] for n in body["data"]["assetNodes"]}
    assert nodes[("daily_video_metrics",)] is True and nodes[("cms_videos",)] is False
    partitions = {m["partition"] for m in body["data"]["assetOrError"]["assetMaterializations"]}
    assert len(partitions) == 3


def test_ui_in_the_sandbox_reads_the_logs_the_demo_generated(demo, monkeypatch):
    root, _, _ = demo
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", str(root / "data"))
    monkeypatch.delenv("AGORA_LOG_ROOT", raising=False)
    log_root = Path(cli.sandbox_env()["AGORA_LOG_ROOT"])
    assert log_root.is_relative_to(root / "data")
    assert len(list(log_root.glob("*-*-*"))) >= 3, "the demo's day folders are where the UI will read"


def test_export_of_several_channels_warns_about_missing_days(demo, monkeypatch, tmp_path, capsys):
    root, _, _ = demo
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", str(root / "data"))
    lake = pl.read_parquet(sorted((root / "data" / "daily_video_metrics").glob("date=*/part-0.parquet")))
    first = sorted(lake["date"].unique())[0]
    out = str(tmp_path / "research.csv")
    args = [
        "export",
        "daily_video_metrics",
        out,
        "--start",
        str(first - timedelta(days=2)),
        "--end",
        str(first),
    ]
    assert cli.main([*args, "--channel", "neo", "--channel", "research"]) == 0
    exported = pl.read_csv(out)
    expected = lake.filter(pl.col("channel").is_in(["neo", "research"]) & (pl.col("date") == first))
    assert exported.height == expected.height > 0
    assert "2 day(s) of daily_video_metrics were never materialized" in capsys.readouterr().err


def test_export_of_an_unknown_channel_names_the_known_ones(demo, monkeypatch, tmp_path, capsys):
    root, _, _ = demo
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", str(root / "data"))
    args = [
        "export",
        "daily_video_metrics",
        str(tmp_path / "x.csv"),
        "--start",
        "2000-01-01",
        "--end",
        "2100-01-01",
    ]
    assert cli.main([*args, "--channel", "Research"]) == 2
    err = capsys.readouterr().err
    assert "no channel Research in daily_video_metrics" in err and "research_internal" in err


def test_every_warehouse_view_has_rows_after_the_demo(demo):
    from video_analytics.storage.warehouse import run_sql
    from video_analytics.warehouse.views import registered_views

    root, summary, _ = demo
    assert summary["duckdb_warehouse"]["partitions"] == 1  # the demo materializes the warehouse asset
    database = str(root / "data" / "warehouse.duckdb")
    empty = [
        v.name for v in registered_views() if run_sql(database, f"SELECT count(*) FROM {v.name}").item() == 0
    ]
    assert empty == []


def test_the_seeds_example_queries_answer_in_video_analytics_sql(demo, capsys):
    from video_analytics.storage.warehouse import run_sql
    from video_analytics_tests.tmdb.test_warehouse import seed_queries

    root, _, _ = demo
    database = str(root / "data" / "warehouse.duckdb")
    queries = seed_queries()
    assert len(queries) == 4
    for query in queries:
        assert cli.main(["sql", query, "--database", database]) == 0, query
        assert run_sql(database, query).height > 0, query
