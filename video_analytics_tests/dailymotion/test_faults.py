"""Vendor faults survived: the same rows and content as a fault-free run; secrets stored nowhere.

Every case runs the whole flow (request, sensor ticks, report, load run, enrichment) against the
simulator over HTTP with one kind of fault switched on, and compares both tables with a fault-free
run by row count and a content hash of the sorted rows.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import dagster as dg
import httpx
import polars as pl
import pytest
import sqlalchemy as sa

from video_analytics.dailymotion import assets as dma
from video_analytics.dailymotion import resources as dm_resources
from video_analytics.dailymotion.resources import DailyMotionResource
from video_analytics.instance import with_psycopg2_driver
from video_analytics.sandbox.demo import REPO_ROOT
from video_analytics_tests.dailymotion.conftest import reset
from video_analytics_tests.dailymotion.test_sensor_e2e import Driver, day_keys

DAYS = ("2024-02-01", "2024-02-02")
TABLES = ("dm_hourly_reports", "dm_daily_video_stats")
FAKE_SECRET = "fake-dm-secret-7Qx9vTz3KpL2"  # distinctive: any copy of it in a file is a leak


def content(lake: Path) -> dict[str, tuple[int, str]]:
    """Rows and a hash of the sorted rows per table (file bytes may differ; the data must not)."""
    out = {}
    for table in TABLES:
        frame = pl.read_parquet(sorted((lake / table).glob("date=*/part-0.parquet")))
        frame = frame.sort(frame.columns, nulls_last=True)
        digest = hashlib.sha256(frame.write_ndjson().encode()).hexdigest()
        out[table] = (frame.height, digest)
    return out


def load(dm, instance, lake: Path, resource: DailyMotionResource, after_ask=None, each_tick=None) -> None:
    """The flow until both days are loaded; `after_ask` knobs are switched on once the report is
    asked (faults then hit polls, downloads and metadata calls, which are retried)."""
    driver = Driver(instance, resource, lake)
    driver.request(*DAYS)
    for _ in range(40):
        if day_keys(*DAYS) <= instance.get_materialized_partitions(dma.HOURLY):
            return
        if each_tick:
            each_tick()
        requests = driver.tick().run_requests or []
        if after_ask and dm.sim.stats.snapshot().get("reports_asked"):
            dm.knobs(**after_ask)
            after_ask = None
        for request in requests:
            driver.run(request, raise_on_error=False)
    raise AssertionError(f"not loaded: {dm.sim.stats.snapshot()}")


@pytest.fixture(scope="module")
def fault_free(dm_server, tmp_path_factory):
    reset(dm_server.sim)
    lake = tmp_path_factory.mktemp("fault-free") / "lake"
    with dg.DagsterInstance.ephemeral() as instance:
        load(dm_server, instance, lake, dm_server.resource(lookback_days=0))
    return content(lake)


def expire_tokens(dm) -> None:
    assert httpx.post(f"{dm.url}/_sandbox/expire_tokens").status_code == 200


#: (knobs from the start, knobs once the report is asked). Asking for a report is never retried
#: (DailyMotion may have created it): a fault on the ask counts as a report failure, and more than
#: `max_report_failures` (3) of them in a row give the days up with an alert, by design.
FAULTS = {
    "429 storm": ({"throttle_next": 12, "retry_after_header": "0"}, None),
    "5xx burst on the ask": ({"error_next": 3}, None),
    "5xx burst after the ask": (None, {"error_next": 6}),
    "truncated bodies": (None, {"truncate_next": 4}),
    "invalid JSON bodies": (None, {"garble_next": 4}),
    "slow responses": ({"latency": 0.2}, None),
}
COUNTERS = {"throttle_next": "throttled", "truncate_next": "truncated", "garble_next": "garbled"}


@pytest.mark.parametrize(("knobs", "after_ask"), FAULTS.values(), ids=FAULTS.keys())
def test_a_fault_gives_the_same_rows_and_content_as_a_fault_free_run(
    dm, fault_free, tmp_path, knobs, after_ask
):
    if knobs:
        dm.knobs(**knobs)
    with dg.DagsterInstance.ephemeral() as instance:
        load(dm, instance, tmp_path / "lake", dm.resource(lookback_days=0), after_ask=after_ask)
    assert content(tmp_path / "lake") == fault_free
    stats = dm.sim.stats.snapshot()
    for knob, value in {**(knobs or {}), **(after_ask or {})}.items():
        if knob in COUNTERS:
            assert stats[COUNTERS[knob]] == value  # the faults really happened
        if knob == "error_next":
            assert stats["status"]["500"] == value


def test_token_expiry_before_every_tick_and_run_gives_the_same_content(dm, fault_free, tmp_path, monkeypatch):
    monkeypatch.setattr(dm_resources, "_AUTHS", {})
    with dg.DagsterInstance.ephemeral() as instance:
        load(
            dm, instance, tmp_path / "lake", dm.resource(lookback_days=0), each_tick=lambda: expire_tokens(dm)
        )
    assert content(tmp_path / "lake") == fault_free
    assert dm.sim.stats.snapshot()["rejected_tokens"] >= 1


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def instance_home(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str | None]:
    """DAGSTER_HOME with the repo's dagster.yaml: SQLite there, or PostgreSQL (VIDEO_ANALYTICS_PG_URL);
    compute logs on disk there either way."""
    home = tmp_path / "instance"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    postgres_url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    if postgres_url:
        monkeypatch.setenv("VIDEO_ANALYTICS_PG_URL", postgres_url)
    else:
        monkeypatch.delenv("VIDEO_ANALYTICS_PG_URL", raising=False)
    return home, postgres_url


def postgres_rows(url: str) -> list[str]:
    """Every row of every table of the instance's database, as text."""
    engine = sa.create_engine(with_psycopg2_driver(url))
    try:
        with engine.connect() as con:
            tables = sa.inspect(con).get_table_names()
            queries = [sa.text(f'SELECT t::text FROM "{table}" t') for table in tables]
            return [row for query in queries for row in con.execute(query).scalars()]
    finally:
        engine.dispose()


def test_no_secret_is_stored_anywhere_under_the_instance_or_the_lake(
    dm, fault_free, tmp_path, monkeypatch, instance_home
):
    """Event logs, compute logs, run config, run storage (SQLite files or PostgreSQL rows), the lake."""
    home, postgres_url = instance_home
    monkeypatch.setattr(dm.sim, "client_secret", FAKE_SECRET)
    monkeypatch.setattr(dm_resources, "_AUTHS", {})
    env = dm.sim.env(dm.url)
    monkeypatch.setenv("DM_CLIENT_API", env["DM_CLIENT_API"])
    monkeypatch.setenv("DM_CLIENT_SECRET", FAKE_SECRET)
    resource = DailyMotionResource(
        client_id=dg.EnvVar("DM_CLIENT_API"),
        client_secret=dg.EnvVar("DM_CLIENT_SECRET"),
        base_url=dm.url,
        lookback_days=0,
        retry_base_delay=0.01,
        poll_initial_seconds=0.0,
        poll_max_seconds=0.0,
        failure_backoff_seconds=0.0,
    )
    dm.knobs(throttle_next=2, retry_after_header="0", error_next=2)  # errors get logged
    with dg.DagsterInstance.get() as instance:
        load(dm, instance, tmp_path / "lake", resource, each_tick=lambda: expire_tokens(dm))
        run_ids = [run.run_id for run in instance.get_runs()]
    assert content(tmp_path / "lake") == fault_free
    tokens = list(dm.sim._tokens)  # every access token issued in this test
    secrets = [FAKE_SECRET, *tokens]
    files = [p for p in [*home.rglob("*"), *(tmp_path / "lake").rglob("*")] if p.is_file()]
    compute_logs = [p for p in files if p.suffix in (".out", ".err") and p.stat().st_size]
    assert compute_logs, "the runs' captured stdout/stderr are among the files searched"
    assert postgres_url or any(p.suffix == ".db" for p in files)
    leaks = [(str(p), s[:8]) for p in files for s in secrets if s.encode() in p.read_bytes()]
    assert leaks == []
    if postgres_url:
        rows = postgres_rows(postgres_url)
        assert all(any(run_id in row for row in rows) for run_id in run_ids), "the runs are stored there"
        assert [(row[:80], s[:8]) for row in rows for s in secrets if s in row] == []
