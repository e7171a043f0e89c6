"""The shipped deployment profiles load: each instance file against Dagster's schema and each class's
own config schema, each executor file against its engine's executor (celery, k8s, ECS)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml
from dagster._config import validate_config
from dagster._config.field_utils import convert_potential_field
from dagster._core.instance.config import dagster_instance_config

from video_analytics import distributed
from video_analytics.definitions import build_definitions
from video_analytics.instance import EnvSelectedStorage
from video_analytics.settings import Settings, SettingsError

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ENGINES = ("celery", "k8s", "ecs")
CLASS_SECTIONS = ("compute_logs", "run_coordinator", "run_launcher")


@pytest.mark.parametrize("engine", ENGINES)
def test_instance_file_and_every_class_config_are_valid(engine):
    folder = DEPLOY / engine
    config, _ = dagster_instance_config(str(folder))
    assert config["storage"]["custom"]["config"]["require_postgres"] is True
    assert config["compute_logs"]["class"] == "S3ComputeLogManager"
    for section in CLASS_SECTIONS:
        block = config[section]
        klass = getattr(importlib.import_module(block["module"]), block["class"])
        schema = convert_potential_field(klass.config_type()).config_type
        result = validate_config(schema, block.get("config") or {})
        assert result.success, f"{engine}/dagster.yaml {section}: {[e.message for e in result.errors]}"
    storage = config["storage"]["custom"]
    schema = convert_potential_field(EnvSelectedStorage.config_type()).config_type
    assert validate_config(schema, storage["config"]).success


@pytest.mark.parametrize("engine", ENGINES)
def test_executor_file_configures_the_engine_for_every_job(engine, monkeypatch):
    monkeypatch.setenv("DAGSTER_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("DAGSTER_CELERY_BACKEND_URL", "redis://127.0.0.1:6379/1")
    settings = Settings(executor=engine, executor_config=str(DEPLOY / engine / "executor.yaml"))
    executor = distributed.executor(settings)
    assert executor.name == engine
    schema = executor.config_schema.config_type
    document = yaml.safe_load((DEPLOY / engine / "executor.yaml").read_text())
    # `configured` already checked it; this shows the file itself, not defaults, is what is valid
    assert validate_config(schema, document["execution"]["config"]).success
    job = build_definitions(settings).resolve_implicit_global_asset_job_def()
    assert job.executor_def.name == engine


def test_default_is_multiprocess_with_one_step_runs_inline():
    job = build_definitions(Settings()).resolve_implicit_global_asset_job_def()
    assert job.executor_def.name == "multiprocess_or_inline"


def test_a_chosen_engine_without_its_file_says_which_setting_to_set(tmp_path):
    with pytest.raises(SettingsError, match="VIDEO_ANALYTICS_EXECUTOR_CONFIG"):
        distributed.executor(Settings(executor="celery"))
    with pytest.raises(SettingsError, match="no such file"):
        distributed.executor(Settings(executor="celery", executor_config=str(tmp_path / "x.yaml")))
    (tmp_path / "bad.yaml").write_text("broker: redis://x\n")
    with pytest.raises(SettingsError, match="execution: config:"):
        distributed.executor(Settings(executor="celery", executor_config=str(tmp_path / "bad.yaml")))


def test_unknown_engine_names_the_choices(monkeypatch):
    monkeypatch.setenv("VIDEO_ANALYTICS_EXECUTOR", "spark")
    with pytest.raises(SettingsError, match="VIDEO_ANALYTICS_EXECUTOR='spark' is not one of multiprocess"):
        Settings.from_env()


def test_cluster_instance_refuses_to_fall_back_to_sqlite(monkeypatch):
    monkeypatch.delenv("VIDEO_ANALYTICS_PG_URL", raising=False)
    config = {"postgres_url_env": "VIDEO_ANALYTICS_PG_URL", "require_postgres": True}
    with pytest.raises(RuntimeError, match="set VIDEO_ANALYTICS_PG_URL"):
        EnvSelectedStorage.from_config_value(None, config)
