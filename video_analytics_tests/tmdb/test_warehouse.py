"""TMDB in its warehouses: the graph's own view assets, DuckDB over a fresh lake, BigQuery on bqemulator.

One module-scoped production-like run (TMDB stored in BigQuery *and* the lake, as
`VIDEO_ANALYTICS_STORAGE_TMDB=bigquery+parquet` sets it): movies, 16 days of snapshots, 2 days of
metrics, then `bigquery_views` and `duckdb_warehouse`. No demo involved.
"""

import os
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from video_analytics import cli
from video_analytics.settings import Settings
from video_analytics.storage import bigquery as bq
from video_analytics.storage.targets import io_manager_for, with_storage_kind
from video_analytics.storage.warehouse import run_sql
from video_analytics.tmdb import assets as ta
from video_analytics.warehouse import definitions as wdefs
from video_analytics.warehouse.assets import BIGQUERY_VIEWS, DUCKDB_WAREHOUSE
from video_analytics.warehouse.views import registered_views
from video_analytics_tests.tmdb.conftest import make_resource

TRACKED = 20
CONFIG = {
    "ops": {
        "tmdb_movies": {"config": {"initial_movies": TRACKED}},
        "tmdb_snapshots": {"config": {"list_movies": TRACKED}},
    }
}
SEED_QUERIES = Path(__file__).parents[1] / "data" / "seed_queries.sql"
#: Every registered view over TMDB's tables (the nine analytics views and the original's four names).
TMDB_VIEWS = [v.name for v in registered_views() if any(t.startswith("tmdb_") for t in v.reads)]


def seed_queries() -> list[str]:
    text = "\n".join(line for line in SEED_QUERIES.read_text().splitlines() if not line.startswith("--"))
    return [q.strip() for q in text.split(";\n") if q.strip().rstrip(";")]


class Production:
    """The TMDB and warehouse definitions as a deployment builds them from its settings."""

    def __init__(self, sim, data_dir: Path) -> None:
        self.settings = Settings.from_env(
            profile="sandbox", data_dir=str(data_dir), source_storage={"tmdb": "bigquery+parquet"}
        )
        warehouse = wdefs.build(self.settings)
        self.assets = [*with_storage_kind(ta.assets, "bigquery"), *warehouse.assets]
        self.resources = {
            **warehouse.resources,
            "tmdb": make_resource(sim),
            ta.IO_MANAGER_KEY: io_manager_for(self.settings, "tmdb"),
        }

    def run(self, selection: list[str], start: str | None = None, end: str | None = None, **kwargs):
        tags = (
            {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end or start}
            if start
            else {}
        )
        ops = {k: v for k, v in CONFIG["ops"].items() if k in selection}
        return dg.materialize(
            self.assets,
            selection=selection,
            resources=self.resources,
            run_config={"ops": ops},
            tags=tags,
            **kwargs,
        )


@pytest.fixture(scope="module")
def deployment(sim, bigquery_emulator, tmp_path_factory):
    from video_analytics.storage.bigquery import open_client

    data = tmp_path_factory.mktemp("fresh") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIGQUERY_EMULATOR_HOST", bigquery_emulator.host)
        patch.setenv("VIDEO_ANALYTICS_BQ_PROJECT", bigquery_emulator.project)
        patch.setenv("VIDEO_ANALYTICS_BQ_DATASET", "tmdb_analytics")
        with open_client(bigquery_emulator.project, None, None) as client:
            client.create_dataset(f"{bigquery_emulator.project}.tmdb_analytics", exists_ok=True)
            prod = Production(sim, data)
            with dg.instance_for_test() as instance:
                assert prod.run(["tmdb_movies"], instance=instance).success
                assert prod.run(["tmdb_snapshots"], "2024-02-14", "2024-02-29", instance=instance).success
                assert prod.run(["tmdb_movie_metrics"], "2024-02-28", "2024-02-29", instance=instance).success
                assert prod.run(["bigquery_views", "duckdb_warehouse"], instance=instance).success
                prod.instance = instance
                prod.client = client
                prod.dataset = f"{bigquery_emulator.project}.tmdb_analytics"
                yield prod


def test_the_warehouse_assets_follow_the_tables_and_rebuild_when_they_land(deployment):
    warehouse = next(a for a in deployment.assets if DUCKDB_WAREHOUSE in a.keys)
    assert warehouse.specs_by_key[DUCKDB_WAREHOUSE].kinds == {"duckdb"}
    deps = {dep.asset_key for dep in warehouse.specs_by_key[DUCKDB_WAREHOUSE].deps}
    assert dg.AssetKey("tmdb_movie_metrics") in deps and dg.AssetKey("dm_report_requests") not in deps
    defs = dg.Definitions(assets=deployment.assets, resources=deployment.resources)
    selection = dg.AssetSelection.assets(DUCKDB_WAREHOUSE, BIGQUERY_VIEWS)

    def evaluate(cursor=None):
        return dg.evaluate_automation_conditions(
            defs=defs, instance=deployment.instance, asset_selection=selection, cursor=cursor
        )

    first = evaluate()  # the daemon's first tick: the condition starts watching (nothing requested)
    assert first.total_requested == 0
    assert deployment.run(["tmdb_snapshots"], "2024-02-29", instance=deployment.instance).success
    landed = evaluate(first.cursor)
    assert landed.get_num_requested(DUCKDB_WAREHOUSE) == 1 and landed.get_num_requested(BIGQUERY_VIEWS) == 1
    assert deployment.run(["duckdb_warehouse"], instance=deployment.instance).success
    assert evaluate(landed.cursor).get_num_requested(DUCKDB_WAREHOUSE) == 0  # built; nothing new landed


def test_sql_answers_on_a_fresh_folder_without_the_demo(deployment, capsys, monkeypatch):
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", deployment.settings.data_dir)
    assert cli.main(["sql", "SELECT count(*) AS n FROM tmdb_snapshots"]) == 0
    snapshots = pl.read_parquet(
        Path(deployment.settings.data_dir, "tmdb_snapshots", "date=*", "part-0.parquet")
    )
    assert f"{snapshots.height}" in capsys.readouterr().out
    for view in ("movies", "movie_daily_snapshots", "v_latest_popularity_metrics", "v_top_viral_movies"):
        assert run_sql(deployment.settings.warehouse_path, f"SELECT count(*) FROM {view}").item() > 0, view


def test_sql_builds_a_missing_warehouse_from_the_lake(deployment, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", deployment.settings.data_dir)
    database = str(tmp_path / "elsewhere.duckdb")
    assert cli.main(["sql", "SELECT count(*) FROM movies", "--database", database]) == 0
    assert (
        run_sql(database, "SELECT count(*) FROM movie_metrics_aggregated").item()
        == TRACKED * 0 + run_sql(database, "SELECT count(*) FROM tmdb_movie_metrics").item()
    )


def bigquery_view(deployment, view: str) -> pl.DataFrame:
    return bq.query_frame(deployment.client, f"SELECT * FROM `{deployment.dataset}.{view}`")


def comparable(frame: pl.DataFrame, like: pl.DataFrame | None = None) -> pl.DataFrame:
    """Same column types on both sides (timestamps as UTC, integers as Int64, dates as dates: the
    emulator types some DATE expressions of views as DATETIME), rows in one order."""
    if like is not None:
        frame = frame.with_columns([pl.col(c).cast(pl.Date) for c, t in like.schema.items() if t == pl.Date])
    frame = frame.with_columns(
        [pl.col(c).dt.replace_time_zone(None) for c, t in frame.schema.items() if isinstance(t, pl.Datetime)]
    )
    frame = frame.with_columns([pl.col(c).cast(pl.Int64) for c, t in frame.schema.items() if t.is_integer()])
    sortable = [c for c, t in frame.schema.items() if not isinstance(t, pl.List)]
    return frame.sort(sortable, nulls_last=True)


def test_tmdb_views_return_the_same_rows_in_bigquery_and_duckdb(deployment):
    db = deployment.settings.warehouse_path
    for view in TMDB_VIEWS:
        ours = comparable(run_sql(db, f"SELECT * FROM {view}"))
        theirs = comparable(bigquery_view(deployment, view), like=ours)
        try:
            assert_frame_equal(ours, theirs, check_dtypes=False, rel_tol=1e-9, abs_tol=1e-9)
        except AssertionError as error:
            diff = ours.join(theirs, on=ours.columns, how="anti", nulls_equal=True)
            raise AssertionError(
                f"{view}: {error}\n{diff}\n{theirs.join(ours, on=ours.columns, how='anti', nulls_equal=True)}"
            ) from None


def test_seed_queries_run_unchanged_in_both_warehouses(deployment):
    for query in seed_queries():
        assert run_sql(deployment.settings.warehouse_path, query).height > 0, query
        original = query.replace("FROM `", f"FROM `{deployment.dataset}.")  # the seeds' prefix, back
        assert bq.query_frame(deployment.client, original).height > 0, original


def test_a_rerun_replaces_a_day_in_bigquery_and_the_lake_alike(deployment):
    table = f"{deployment.dataset}.tmdb_snapshots"
    day = "SELECT * FROM `{}` WHERE snapshot_date = DATE '2024-02-29' ORDER BY movie_id"
    before = bq.query_frame(deployment.client, day.format(table))
    total = bq.query_frame(deployment.client, f"SELECT count(*) AS n FROM `{table}`")["n"].item()
    result = deployment.run(["tmdb_snapshots"], "2024-02-29", instance=deployment.instance)
    after = bq.query_frame(deployment.client, day.format(table))
    assert after.drop("ingestion_timestamp").equals(before.drop("ingestion_timestamp"))
    assert bq.query_frame(deployment.client, f"SELECT count(*) AS n FROM `{table}`")["n"].item() == total
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["dagster/row_count"].value == after.height
    assert metadata["dagster/table_name"].value == table
    lake = pl.read_parquet(
        Path(deployment.settings.data_dir, "tmdb_snapshots", "date=2024-02-29", "part-0.parquet")
    )
    assert lake.height == after.height


def test_ingestion_log_has_one_entry_per_snapshot_day(deployment):
    log = run_sql(deployment.settings.warehouse_path, "SELECT * FROM ingestion_log ORDER BY execution_date")
    assert log.height == 16 and log["snapshots_written"].min() >= TRACKED
    assert log.filter(pl.col("status") == "success").height == 2  # the days with metrics
    assert (log["movies_from_list"] == TRACKED).all()
    assert os.path.basename(deployment.settings.warehouse_path) == "warehouse.duckdb"
