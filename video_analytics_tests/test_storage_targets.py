"""Storage target per source, declared once: settings -> IO manager, kinds and warehouse assets."""

import dagster as dg
import pytest

from video_analytics.definitions import build_definitions
from video_analytics.settings import Settings, SettingsError
from video_analytics.storage.bigquery import BigQueryIOManager
from video_analytics.storage.parquet import ParquetLakeIOManager


@pytest.fixture
def bigquery_env(monkeypatch):
    monkeypatch.setenv("VIDEO_ANALYTICS_BQ_PROJECT", "proj")
    monkeypatch.setenv("VIDEO_ANALYTICS_BQ_DATASET", "analytics")
    for name in ("VIDEO_ANALYTICS_STORAGE", "VIDEO_ANALYTICS_STORAGE_TMDB", "VIDEO_ANALYTICS_STORAGE_WISTIA"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("storage", "per_source", "expected"),
    [
        ("parquet", {}, {"dailymotion": ("parquet", False), "tmdb": ("parquet", False)}),
        (
            "bigquery",
            {},
            {"dailymotion": ("bigquery", False), "tmdb": ("bigquery", False), "wistia": ("parquet", False)},
        ),
        (
            "originals",
            {},
            {"tmdb": ("bigquery", False), "wistia": ("redshift", False), "agora": ("parquet", False)},
        ),
        ("originals+parquet", {}, {"tmdb": ("bigquery", True), "brightcove": ("parquet", False)}),
        (
            "parquet",
            {"tmdb": "bigquery+parquet"},
            {"tmdb": ("bigquery", True), "dailymotion": ("parquet", False)},
        ),
        (
            "bigquery",
            {"dailymotion": "parquet"},
            {"tmdb": ("bigquery", False), "dailymotion": ("parquet", False)},
        ),
    ],
)
def test_each_source_goes_where_its_setting_says(storage, per_source, expected):
    settings = Settings(storage=storage, source_storage=per_source)
    assert {source: settings.storage_for(source) for source in expected} == expected


def test_a_source_cannot_be_sent_where_it_cannot_go(monkeypatch):
    monkeypatch.setenv("VIDEO_ANALYTICS_STORAGE_TMDB", "redshift")
    settings = Settings.from_env()
    with pytest.raises(
        SettingsError,
        match=r"VIDEO_ANALYTICS_STORAGE_TMDB='redshift': tmdb can be stored in parquet, bigquery",
    ):
        settings.storage_for("tmdb")
    monkeypatch.setenv("VIDEO_ANALYTICS_STORAGE", "snowflake")
    with pytest.raises(
        SettingsError, match=r"VIDEO_ANALYTICS_STORAGE='snowflake' is not one of parquet, bigquery"
    ):
        Settings.from_env()


def test_tmdb_in_bigquery_gets_its_io_manager_kinds_and_views_asset(bigquery_env, tmp_path):
    defs = build_definitions(
        Settings.from_env(data_dir=str(tmp_path), source_storage={"tmdb": "bigquery+parquet"})
    )
    manager = defs.resources["tmdb_io_manager"]
    assert isinstance(manager, BigQueryIOManager) and manager.dataset == "analytics"
    assert manager.lake_root == str(tmp_path)
    assert isinstance(defs.resources["dailymotion_io_manager"], ParquetLakeIOManager)
    graph = defs.resolve_asset_graph()
    assert "bigquery" in graph.get(dg.AssetKey("tmdb_snapshots")).kinds
    assert "parquet" in graph.get(dg.AssetKey("daily_video_metrics")).kinds
    assert "bigquery" not in graph.get(dg.AssetKey("dm_report_requests")).kinds
    views = graph.get(dg.AssetKey("bigquery_views"))
    assert views.kinds == {"bigquery"} and dg.AssetKey("tmdb_movie_metrics") in views.parent_keys
    warehouse = graph.get(dg.AssetKey("duckdb_warehouse"))
    assert warehouse.kinds == {"duckdb"} and dg.AssetKey("tmdb_snapshots") in warehouse.parent_keys
    sensor = defs.resolve_sensor_def("automation")  # the platform's, on by default
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_tables_only_in_bigquery_are_not_views_of_the_lake(bigquery_env, tmp_path):
    graph = build_definitions(
        Settings.from_env(data_dir=str(tmp_path), storage="bigquery")
    ).resolve_asset_graph()
    lake_tables = graph.get(dg.AssetKey("duckdb_warehouse")).parent_keys
    assert (
        dg.AssetKey("tmdb_snapshots") not in lake_tables
        and dg.AssetKey("dm_daily_video_stats") not in lake_tables
    )
    assert dg.AssetKey("daily_video_metrics") in lake_tables
    assert dg.AssetKey("dm_daily_video_stats") in graph.get(dg.AssetKey("bigquery_views")).parent_keys
