"""bqemulator (a DuckDB-backed BigQuery REST emulator) in-process, for the whole test session.

It starts offline only with its GEOGRAPHY support off: it loads DuckDB's `spatial` extension, which is
downloaded at run time. Tests reach it the way production code reaches BigQuery, through
`storage.bigquery.open_client`, which honours BIGQUERY_EMULATOR_HOST (set per test by `bigquery`).
What the emulator cannot serve, and so stays untested here: partition decorators (`t$YYYYMMDD`,
which the IO manager no longer uses), the Storage Read API, and table expiration (staging tables
are dropped explicitly anyway).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

PROJECT = "va-test"


@dataclass(frozen=True)
class BigQueryEmulator:
    host: str  # 127.0.0.1:port, the BIGQUERY_EMULATOR_HOST value
    project: str


@pytest.fixture(scope="session")
def bigquery_emulator() -> Iterator[BigQueryEmulator]:
    from bqemulator.config import PersistenceMode, Settings
    from bqemulator.storage import engine
    from bqemulator.testing._thread_runner import ThreadedEmulator

    engine.DuckDBEngine._load_spatial = lambda self, *args, **kwargs: None  # no download offline
    emulator = ThreadedEmulator(
        Settings(
            persistence_mode=PersistenceMode.EPHEMERAL,
            rest_host="127.0.0.1",
            rest_port=0,
            grpc_host="127.0.0.1",
            grpc_port=0,
            default_project_id=PROJECT,
        )
    )
    try:
        emulator.start()
        yield BigQueryEmulator(f"127.0.0.1:{emulator.server.rest_port}", PROJECT)
    finally:
        emulator.stop()


@pytest.fixture
def bigquery(bigquery_emulator: BigQueryEmulator, monkeypatch: pytest.MonkeyPatch):
    """A fresh dataset on the emulator, with the platform's BigQuery settings pointing at it."""
    from video_analytics.storage.bigquery import open_client

    dataset = f"ds_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", bigquery_emulator.host)
    monkeypatch.setenv("VIDEO_ANALYTICS_BQ_PROJECT", bigquery_emulator.project)
    monkeypatch.setenv("VIDEO_ANALYTICS_BQ_DATASET", dataset)
    monkeypatch.delenv("VIDEO_ANALYTICS_BQ_CREDENTIALS", raising=False)
    with open_client(bigquery_emulator.project, None, None) as client:
        client.create_dataset(f"{bigquery_emulator.project}.{dataset}")
        yield client, bigquery_emulator.project, dataset
