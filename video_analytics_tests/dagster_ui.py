"""One started Dagster UI (`video-analytics ui`: sandbox, webserver, daemon, code server) per test session.

Starting `dagster dev` and loading our definitions in its processes costs more CPU than most of the
tests that drive it, so every test that talks to the UI uses this one server (`dagster_ui`). Those
tests carry `pytest.mark.xdist_group(UI_GROUP)`, and `make test` runs `pytest -n 2 --dist loadgroup`,
so the server is started once, on one worker. Run without `--dist loadgroup`, each worker that needs
it starts its own: slower, still correct.

The server's partitions start at the first of three days (yesterday and the two before), as after
`video-analytics demo --days 3`; each test works on its own asset, so their runs do not meet. Its
sensors are stopped once it is up, so only the runs the tests launch compete for the machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from video_analytics.sandbox.demo import REPO_ROOT
from video_analytics.sandbox.start_date import record_demo_start
from video_analytics_tests.support import free_port, graphql, wait_until

UI_GROUP = "dagster_ui"
#: Bounds only a failure: `dagster dev` starts in seconds on a quiet machine, minutes on a crowded one.
UI_START_SECONDS = 300.0
LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
SENSORS = """
{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { ... on RepositoryLocation {
  repositories { sensors { id name sensorState { status } } }
} } } } } }
"""
STOP_SENSOR = """
mutation($id: String!) { stopSensor(id: $id) { __typename ... on PythonError { message } } }
"""


@dataclass(frozen=True)
class DagsterUI:
    """The running UI and where its instance, lake and Agora logs live."""

    url: str
    home: Path
    lake: Path
    agora_logs: Path
    days: tuple[date, date, date]
    process: subprocess.Popen
    log: Path

    @property
    def env(self) -> dict[str, str]:
        """The settings the server runs with, for code in the test process that shares its instance."""
        return _settings(self.home, self.lake, self.agora_logs)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        """POST to the webserver's GraphQL API; fails with the server's log if it has died."""
        return graphql(f"{self.url}/graphql", query, self.process, variables, timeout=UI_START_SECONDS)

    def log_tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:]

    @contextmanager
    def instance(self) -> Iterator[dg.DagsterInstance]:
        """The server's Dagster instance, opened in the test process with the server's settings."""
        saved = {name: os.environ.get(name) for name in self.env}
        os.environ.update(self.env)
        try:
            with dg.DagsterInstance.get() as instance:
                yield instance
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture(scope="session")
def dagster_ui(tmp_path_factory) -> Iterator[DagsterUI]:
    root = tmp_path_factory.mktemp("dagster_ui")
    home, lake, logs = root / "home", root / "data", root / "agora_logs"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = (yesterday - timedelta(days=2), yesterday - timedelta(days=1), yesterday)
    record_demo_start(str(lake), days[0])  # as `video-analytics demo` does: the UI's partitions start here
    port, log = free_port(), root / "ui.log"
    process = _start(port, root, _settings(home, lake, logs), log)
    ui = DagsterUI(f"http://127.0.0.1:{port}", home, lake, logs, days, process, log)
    try:
        wait_until(lambda: _loaded(ui), "the UI's code location to load", UI_START_SECONDS, interval=0.5)
        _stop_sensors(ui)
        yield ui
    finally:
        _stop_group(ui.process)


def _loaded(ui: DagsterUI) -> bool:
    entries = ui.graphql(LOCATIONS)["data"]["workspaceOrError"]["locationEntries"]
    return bool(entries) and all(entry["loadStatus"] == "LOADED" for entry in entries)


def _stop_sensors(ui: DagsterUI) -> None:
    """Stop every sensor (the DailyMotion report sensors, the automation sensor), as a user can in the
    UI's Automation tab: their runs would compete for the machine with the runs the tests launch, and
    each has its own tests (test_automation.py, dailymotion/test_sensor_e2e.py)."""
    entries = ui.graphql(SENSORS)["data"]["workspaceOrError"]["locationEntries"]
    for entry in entries:
        for repository in entry["locationOrLoadError"]["repositories"]:
            for sensor in repository["sensors"]:
                if sensor["sensorState"]["status"] == "RUNNING":
                    stopped = ui.graphql(STOP_SENSOR, {"id": sensor["id"]})["data"]["stopSensor"]
                    assert stopped["__typename"] == "StopSensorMutationResult", (sensor["name"], stopped)


def _settings(home: Path, lake: Path, agora_logs: Path) -> dict[str, str]:
    return {
        "DAGSTER_HOME": str(home),
        "VIDEO_ANALYTICS_DATA_DIR": str(lake),
        "AGORA_LOG_ROOT": str(agora_logs),
    }


def _start(port: int, root: Path, settings: dict[str, str], log: Path) -> subprocess.Popen:
    env = {**os.environ, **settings}
    env.pop("VIDEO_ANALYTICS_PG_URL", None)  # SQLite under DAGSTER_HOME, like a first `make demo`
    command = [sys.executable, "-m", "video_analytics.cli", "ui", "--port", str(port)]
    with log.open("w") as out:
        return subprocess.Popen(
            command, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop_group(server: subprocess.Popen) -> None:
    """SIGTERM to the UI's whole process group, then SIGKILL for code servers that outlive it."""
    with suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        server.wait(timeout=30)
    with suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=10)
