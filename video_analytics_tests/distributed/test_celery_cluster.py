"""The dagster-celery profile as a cluster on one box: PostgreSQL instance storage, Redis broker and
shared rate limits, moto S3 for the lake, the Agora logs and the compute logs, two celery workers.

A multi-day backfill of Agora (one run per day) and Wistia (one run for the range) runs through the
workers; one worker is SIGKILLed while it runs an Agora step, and the broker hands that step to the
other worker. The lake then holds exactly the rows of a single-process run of the same days.

Slow (workers and run processes each import the platform): `make test-cluster`, which CI runs.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import fsspec
import polars as pl
import psycopg2
import pytest
import yaml
from dagster import DagsterEventType, DagsterRunStatus

from video_analytics.agora import assets as agora_assets
from video_analytics.agora.resources import AgoraLogsResource
from video_analytics.partitions import partition_range_tags
from video_analytics.sandbox import SimulatorServer
from video_analytics.sandbox.agora.generator import write_day
from video_analytics.sandbox.wistia.simulator import WistiaKnobs, WistiaSimulator, WistiaWorld
from video_analytics.storage.parquet import ParquetLakeIOManager
from video_analytics.wistia import assets as wistia_assets
from video_analytics.wistia.resources import WistiaResource
from video_analytics_tests.distributed.cluster import REPO, Cluster, cluster_env, wait_for
from video_analytics_tests.distributed.conftest import quiet_machine

pytestmark = [*quiet_machine, pytest.mark.postgres]

AGORA_DAYS = [date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)]
AGORA_LINES_PER_DAY = 30_000
TODAY = datetime.now(UTC).date()
WISTIA_FIRST, WISTIA_LAST = TODAY - timedelta(days=6), TODAY - timedelta(days=4)
AGORA_SELECTION = "agora_session_stats,agora_rejects,agora_video_daily_stats"
WISTIA_PARTITIONED = "wistia_fact_engagements,wistia_fact_engagements_byday,wistia_fact_events"
TABLES = (
    "agora_session_stats",
    "agora_rejects",
    "agora_video_daily_stats",
    "dim_media",
    "fact_engagements",
    "fact_engagements_byday",
    "fact_events",
)
#: Seconds before the broker gives an unacknowledged step to another worker (14400 in production):
#: longer than any step here, short enough to see the retry in the test.
VISIBILITY_TIMEOUT = 60


@pytest.fixture
def cluster_database(postgres_url: str) -> str:
    """A database of its own, so the cluster's runs are the only ones in it."""
    name = f"cluster_{uuid.uuid4().hex[:8]}"
    connection = psycopg2.connect(postgres_url)
    connection.autocommit = True  # CREATE DATABASE runs outside a transaction
    try:
        connection.cursor().execute(f"CREATE DATABASE {name}")
    finally:
        connection.close()
    return postgres_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def wistia_server():
    knobs = WistiaKnobs(requests_per_minute=6000, window_seconds=60.0)
    sim = WistiaSimulator(WistiaWorld(today=TODAY, scale="test", seed=11), knobs=knobs)
    with SimulatorServer(sim.app) as server:
        yield sim, sim.env(server.base_url)


def test_backfill_on_celery_workers_survives_a_killed_worker(
    tmp_path, cluster_database, redis_url, s3_endpoint, s3_bucket, wistia_server, monkeypatch
):
    _, wistia_env = wistia_server
    s3_options = {"endpoint_url": s3_endpoint}
    log_root = f"s3://{s3_bucket}/agora_logs"
    for day in AGORA_DAYS:
        write_day(log_root, day, AGORA_LINES_PER_DAY, files=2, storage_options=s3_options)

    single = tmp_path / "single-process-lake"
    single_process_backfill(single, log_root, s3_options, wistia_env)

    env = cluster_environment(tmp_path, cluster_database, redis_url, s3_endpoint, s3_bucket, wistia_env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cluster = Cluster(cluster_env(os.environ, {}), tmp_path, Path(env["VIDEO_ANALYTICS_EXECUTOR_CONFIG"]))
    try:
        for name in ("w1", "w2"):
            cluster.start_worker(name)
        cluster.wait_until_ready()
        finish(cluster, [cluster.materialize("wistia_dim_media")])
        # as docs/deployment.md says: set each pool's limit once, before runs start side by side
        # (on a fresh PostgreSQL instance, runs starting together race to create a pool's row)
        for pool in ("agora", "wistia"):
            dg.DagsterInstance.get().event_log_storage.set_concurrency_slots(pool, 2)
        runs = [cluster.materialize(WISTIA_PARTITIONED, partition_range=f"{WISTIA_FIRST}...{WISTIA_LAST}")]
        runs += [cluster.materialize(AGORA_SELECTION, partition=day.isoformat()) for day in AGORA_DAYS]

        instance = dg.DagsterInstance.get()
        started = lambda: first_execution(instance, "agora_session_stats")  # noqa: E731
        run_id, victim = wait_for(started, 240, lambda: cluster_logs(cluster))
        killed = victim.split("@")[0]
        cluster.workers[killed].kill()
        finish(cluster, runs)

        runs_done = instance.get_runs()
        assert len(runs_done) == 5
        assert {run.status for run in runs_done} == {DagsterRunStatus.SUCCESS}
        # the killed worker's step ran again, to the end, on the other worker
        hosts = [worker for step, worker in executions(instance, run_id) if step == "agora_session_stats"]
        assert hosts[0] == victim
        assert hosts[-1].split("@")[0] != killed
        # the backfill's Agora days were runs of their own, spread over the workers
        agora_runs = [r for r in runs_done if "agora" in str(r.asset_selection)]
        agora_days = sorted(r.tags.get("dagster/partition", "") for r in agora_runs)
        assert agora_days == [day.isoformat() for day in AGORA_DAYS]
    finally:
        cluster.stop()

    cluster_lake = tmp_path / "cluster-lake"
    fsspec.filesystem("s3", **s3_options).get(f"{s3_bucket}/lake/", str(cluster_lake), recursive=True)
    for table in TABLES:
        expected, got = read_table(single / table), read_table(cluster_lake / table)
        assert got.schema == expected.schema, table
        assert got.height == expected.height > 0, table
        assert sorted(got.hash_rows().to_list()) == sorted(expected.hash_rows().to_list()), table
    assert days_of(cluster_lake / "agora_session_stats") == [d.isoformat() for d in AGORA_DAYS]
    logs = fsspec.filesystem("s3", **s3_options).find(f"{s3_bucket}/dagster-compute-logs/")
    assert any(path.endswith(".err") or path.endswith(".out") for path in logs)


def single_process_backfill(lake: Path, log_root: str, s3_options: dict, wistia_env: dict) -> None:
    """The same days in this process, with Dagster's in-process executor: the rows to match."""
    agora = AgoraLogsResource(log_root=log_root, storage_options=s3_options)
    dg.materialize(
        agora_assets.assets,
        resources={"agora_logs": agora, "io_manager": ParquetLakeIOManager(root=str(lake))},
        tags=partition_range_tags(AGORA_DAYS[0], AGORA_DAYS[-1]),
    )
    wistia = WistiaResource(
        api_token=wistia_env["WISTIA_API_TOKEN"],
        base_url=wistia_env["WISTIA_BASE_URL"],
        requests_per_minute=0,
    )
    resources = {"wistia": wistia, "wistia_io_manager": ParquetLakeIOManager(root=str(lake))}
    dg.materialize(
        wistia_assets.assets,
        selection=["wistia_dim_media", *WISTIA_PARTITIONED.split(",")],
        resources=resources,
        tags=partition_range_tags(WISTIA_FIRST, WISTIA_LAST),
    )


def cluster_environment(
    tmp_path: Path, pg_url: str, redis_url: str, s3_endpoint: str, bucket: str, wistia_env: dict
) -> dict[str, str]:
    """What every process of the deployment shares: deploy/celery/'s files and their variables."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "celery" / "dagster.yaml", home / "dagster.yaml")
    executor = yaml.safe_load((REPO / "deploy" / "celery" / "executor.yaml").read_text())
    transport = executor["execution"]["config"]["config_source"]["broker_transport_options"]
    transport.update(visibility_timeout=VISIBILITY_TIMEOUT, unacked_restore_interval=1)
    transport.update(unacked_restore_throttle=1)
    executor_yaml = tmp_path / "executor.yaml"
    executor_yaml.write_text(yaml.safe_dump(executor))
    redis_base = redis_url.rsplit("/", 1)[0]
    return {
        "DAGSTER_HOME": str(home),
        "VIDEO_ANALYTICS_PG_URL": pg_url,
        "VIDEO_ANALYTICS_COMPUTE_LOG_BUCKET": bucket,
        "VIDEO_ANALYTICS_DATA_DIR": f"s3://{bucket}/lake",
        "VIDEO_ANALYTICS_START_DATE": "2024-01-01",
        "VIDEO_ANALYTICS_EXECUTOR": "celery",
        "VIDEO_ANALYTICS_EXECUTOR_CONFIG": str(executor_yaml),
        "VIDEO_ANALYTICS_RATE_LIMIT_URL": f"{redis_base}/0",
        "DAGSTER_CELERY_BROKER_URL": f"{redis_base}/1",
        "DAGSTER_CELERY_BACKEND_URL": f"{redis_base}/2",
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AGORA_LOG_ROOT": f"s3://{bucket}/agora_logs",
        "AGORA_LOG_STORAGE_OPTIONS": json.dumps({"endpoint_url": s3_endpoint}),
        **wistia_env,
    }


def executions(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(step key, celery worker) of every start of a step on a worker, in order."""
    found = []
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        data = record.dagster_event.engine_event_data
        worker = data.metadata.get("Celery worker") if data and data.metadata else None
        if worker is not None:
            found.append((record.dagster_event.step_key, worker.value))
    return found


def first_execution(instance: dg.DagsterInstance, step: str) -> tuple[str, str] | None:
    for run in instance.get_runs():
        for step_key, worker in executions(instance, run.run_id):
            if step_key == step:
                return run.run_id, worker
    return None


def finish(cluster: Cluster, runs: list, timeout: float = 420) -> None:
    wait_for(lambda: all(run.poll() is not None for run in runs), timeout, lambda: cluster_logs(cluster))
    failed = [run.args for run in runs if run.returncode != 0]
    assert not failed, f"runs failed: {failed}\n{cluster_logs(cluster)}"


def cluster_logs(cluster: Cluster) -> str:
    logs = sorted(cluster.workdir.glob("*.log"))
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in logs)


def read_table(folder: Path) -> pl.DataFrame:
    files = sorted(folder.rglob("*.parquet"))
    assert files, f"nothing under {folder}"
    return pl.concat([pl.read_parquet(f) for f in files], how="vertical")


def days_of(folder: Path) -> list[str]:
    return sorted(p.name.removeprefix("date=") for p in folder.glob("date=*"))
