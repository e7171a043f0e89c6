"""build(settings): the storage choice, the resource from the environment, the Redshift DDL."""

from __future__ import annotations

import dagster as dg
import pytest

from video_analytics.sandbox import registry
from video_analytics.settings import Settings, SettingsError
from video_analytics.storage.glue import GlueCatalogedParquetIOManager
from video_analytics.storage.parquet import ParquetLakeIOManager
from video_analytics.storage.redshift import RedshiftLoaderIOManager
from video_analytics.wistia import definitions
from video_analytics.wistia.redshift_ddl import redshift_ddl


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("WISTIA_GLUE_DATABASE", "WISTIA_REDSHIFT_IAM_ROLE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


def io_manager(settings: Settings):
    return definitions.build(settings).resources[definitions.IO_MANAGER_KEY]


def test_the_plain_lake_is_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("WISTIA_GLUE_DATABASE", "analytics")  # ignored for a local lake
    manager = io_manager(Settings(data_dir=str(tmp_path)))
    assert type(manager) is ParquetLakeIOManager and manager.root == str(tmp_path)


def test_an_s3_lake_with_a_glue_database_is_catalogued(monkeypatch):
    assert type(io_manager(Settings(data_dir="s3://bucket/lake"))) is ParquetLakeIOManager
    monkeypatch.setenv("WISTIA_GLUE_DATABASE", "analytics")
    manager = io_manager(Settings(data_dir="s3://bucket/lake"))
    assert isinstance(manager, GlueCatalogedParquetIOManager)
    assert manager.database == "analytics" and manager.root == "s3://bucket/lake"


def test_storage_redshift_selects_the_native_loader(monkeypatch):
    monkeypatch.setenv("REDSHIFT_HOST", "cluster.example.com")
    monkeypatch.setenv("WISTIA_REDSHIFT_SCHEMA", "wistia_prod")
    manager = io_manager(Settings(storage="redshift"))
    assert isinstance(manager, RedshiftLoaderIOManager)
    assert manager.schema_name == "wistia_prod" and manager.dialect == "redshift"


def test_definitions_hold_the_assets_checks_and_schedule(tmp_path, monkeypatch):
    monkeypatch.setenv("WISTIA_API_TOKEN", "t")
    defs = definitions.build(Settings(data_dir=str(tmp_path)))
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        "wistia_dim_media",
        "wistia_dim_visitors",
        "wistia_fact_engagements",
        "wistia_fact_engagements_byday",
        "wistia_fact_engagement_graph",
        "wistia_fact_events",
    }
    assert len(graph.asset_check_keys) == 8
    assert defs.resolve_schedule_def("wistia_nightly").cron_schedule == "30 4 * * *"
    assert {asset for step in registry.source("wistia").demo_steps for asset in step.assets} == keys
    assert isinstance(defs.resources["wistia"].api_token, dg.EnvVar)


def test_redshift_ddl_names_the_glue_database(monkeypatch):
    settings = Settings(data_dir="s3://bucket/lake")
    with pytest.raises(SettingsError, match="WISTIA_GLUE_DATABASE"):
        redshift_ddl(settings)
    monkeypatch.setenv("WISTIA_GLUE_DATABASE", "analytics")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    ddl = redshift_ddl(settings)
    assert (
        "CREATE EXTERNAL SCHEMA IF NOT EXISTS \"wistia_lake\"\nFROM DATA CATALOG DATABASE 'analytics'" in ddl
    )
    assert "IAM_ROLE default\nREGION 'eu-west-1';" in ddl
    monkeypatch.setenv("WISTIA_REDSHIFT_IAM_ROLE", "arn:aws:iam::123456789012:role/spectrum")
    assert "IAM_ROLE 'arn:aws:iam::123456789012:role/spectrum'" in redshift_ddl(settings)
    with pytest.raises(SettingsError, match="not an s3:// lake"):
        redshift_ddl(Settings(data_dir="./data"))


def test_the_definitions_resource_reaches_the_simulator_from_its_env(wistia_sim, tmp_path, monkeypatch):
    sim, url = wistia_sim
    for key, value in sim.env(url).items():
        monkeypatch.setenv(key, value)
    defs = definitions.build(Settings(data_dir=str(tmp_path)))
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(asset_selection=[dg.AssetKey("wistia_dim_media")])
    assert result.success
    assert (tmp_path / "dim_media" / "part-0.parquet").exists()
    assert not (tmp_path / "wistia_dim_media").exists()
    assert defs.resources["wistia"].requests_per_minute == float(sim.env(url)["WISTIA_REQUESTS_PER_MINUTE"])
