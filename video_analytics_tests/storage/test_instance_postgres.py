"""The repo's dagster.yaml: SQLite under DAGSTER_HOME by default, PostgreSQL when the URL env is set."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from video_analytics.instance import with_psycopg2_driver

REPO_ROOT = Path(__file__).resolve().parents[2]


@dg.asset
def tiny() -> int:
    return 1


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_sqlite_by_default(dagster_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDEO_ANALYTICS_PG_URL", raising=False)
    with dg.DagsterInstance.get() as instance:
        assert dg.materialize([tiny], instance=instance).success
        assert instance.get_latest_materialization_event(dg.AssetKey("tiny")) is not None
    assert list((dagster_home / "storage").rglob("*.db"))


def test_queue_and_pool_limits_configured(dagster_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDEO_ANALYTICS_PG_URL", raising=False)
    with dg.DagsterInstance.get() as instance:
        config = instance.get_concurrency_config()
    assert config.run_queue_config is not None and config.run_queue_config.max_concurrent_runs == 4
    assert config.pool_config.default_pool_limit == 2  # each vendor API's pool: two steps at a time


@pytest.mark.postgres
def test_postgres_when_url_set(
    dagster_home: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDEO_ANALYTICS_PG_URL", postgres_url)
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([tiny], instance=instance)
        assert result.success
        assert "Postgres" in type(instance.run_storage).__name__
    assert not list(dagster_home.rglob("*.db"))
    engine = sa.create_engine(with_psycopg2_driver(postgres_url))
    try:
        with engine.connect() as con:
            run_ids = con.execute(sa.text("SELECT run_id FROM runs")).scalars().all()
            events = con.execute(
                sa.text("SELECT count(*) FROM event_logs WHERE run_id = :r AND asset_key LIKE '%tiny%'"),
                {"r": result.run_id},
            ).scalar()
    finally:
        engine.dispose()
    assert result.run_id in run_ids
    assert events >= 1
