"""Runs that die are noticed: real code server, real daemon, SIGKILL (dagster.yaml's run monitoring).

The repository's dagster.yaml, with short intervals (1 s polls, slots freed 1 s after a run ends)
and a pool of one slot so a leaked slot would block the next run for ever.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._cli.job import execute_launch_command
from dagster._core.storage.tags import AUTO_RETRY_RUN_ID_TAG, MAX_RETRIES_TAG
from dagster._grpc.client import DagsterGrpcClient
from dagster_shared.cli import WorkspaceOpts

from video_analytics.run_launcher import process_alive
from video_analytics.sandbox.demo import REPO_ROOT
from video_analytics_tests.operations import monitored_defs
from video_analytics_tests.support import free_port

DEADLINE_SECONDS = 300.0  # generous: the machine may be loaded; polling ends as soon as it holds
POOL = "vendor"


def instance_yaml() -> dict:
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    config["concurrency"]["pools"]["default_limit"] = 1
    config["run_monitoring"].update(poll_interval_seconds=1, free_slots_after_run_end_seconds=1)
    return config


class Deployment:
    """A code server and a daemon on one DAGSTER_HOME, started, crashed and restarted like a host."""

    def __init__(self, root: Path) -> None:
        self.home, self.markers = root / "home", root / "markers"
        self.home.mkdir()
        self.markers.mkdir()
        (self.home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml()))
        self.port = free_port()
        self.workspace = root / "workspace.yaml"
        server = {"host": "127.0.0.1", "port": self.port, "location_name": "monitored"}
        self.workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": server}]}))
        pythonpath = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        self.env = {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            monitored_defs.MARKERS_ENV: str(self.markers),
            "PYTHONPATH": pythonpath,
        }
        self.env.pop("VIDEO_ANALYTICS_PG_URL", None)
        self.root = root
        self.processes: list[subprocess.Popen] = []
        self.instance: dg.DagsterInstance | None = None

    def start(self) -> None:
        bin_dir = Path(sys.executable).parent
        code_server = [
            str(bin_dir / "dagster"), "api", "grpc", "-f", monitored_defs.__file__,
            "-h", "127.0.0.1", "-p", str(self.port),
        ]  # fmt: skip
        daemon = [str(bin_dir / "dagster-daemon"), "run", "-w", str(self.workspace)]
        # The daemon starts once the code server answers, as docs/run-recovery.md asks of a host's
        # restart: Dagster's retry daemon gives a run up for good if its code location is unreachable
        # when it handles the failure (seen here under load: the run failed, never retried).
        self._spawn("code-server", code_server)
        client = DagsterGrpcClient(port=self.port, host="127.0.0.1")
        self.wait(lambda: _pings(client), "the code server to answer")
        self._spawn("daemon", daemon)

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.root / f"{name}.log").open("a")
        self.processes.append(
            subprocess.Popen(
                command, env=self.env, cwd=self.root, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a crash takes its run workers too
            )
        )  # fmt: skip

    def crash(self) -> None:
        """SIGKILL the code server, its run workers and the daemon at once (a host crash)."""
        for process in self.processes:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.processes.clear()

    def launch(self, phase: str, tags: dict[str, str] | None = None) -> str:
        run = execute_launch_command(
            instance=self.instance,
            workspace_opts=WorkspaceOpts(workspace=[str(self.workspace)]),
            job_name=monitored_defs.vendor_job.name,
            tags=json.dumps({**(tags or {}), monitored_defs.PHASE_TAG: phase}),
        )
        return run.run_id

    def status(self, run_id: str) -> dg.DagsterRunStatus:
        return self.instance.get_run_by_id(run_id).status

    def claimed_slots(self) -> int:
        return len(self.instance.event_log_storage.get_concurrency_info(POOL).claimed_slots)

    def worker_pid(self, run_id: str) -> int:
        path = self.markers / f"{run_id}.pid"
        self.wait(path.exists, f"run {run_id} to start its step")
        return int(path.read_text())

    def release(self, phase: str) -> None:
        (self.markers / f"{monitored_defs.RELEASE}-{phase}").touch()

    def wait(self, predicate: Callable[[], bool], what: str) -> None:
        """Poll with a bounded deadline (the daemons poll every second); fail with the daemon's log."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not predicate():
            if time.monotonic() > deadline:
                logs = "".join(p.read_text()[-3000:] for p in sorted(self.root.glob("*.log")))
                raise AssertionError(f"timed out waiting for {what}\n{logs}")
            time.sleep(0.2)

    def stop(self) -> None:
        (self.markers / f"{monitored_defs.RELEASE}-").touch()
        for process in self.processes:
            os.killpg(process.pid, signal.SIGKILL)  # nothing to keep: the test's home is thrown away
            process.wait()
        self.processes.clear()


def _pings(client: DagsterGrpcClient) -> bool:
    try:
        client.ping("")
    except Exception:
        return False
    return True


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """One code server and daemon for the module (starting them costs most of these tests' time)."""
    deployment = Deployment(tmp_path_factory.mktemp("deployment"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(deployment.home))
        env.delenv("VIDEO_ANALYTICS_PG_URL", raising=False)
        with dg.DagsterInstance.from_config(str(deployment.home)) as instance:
            deployment.instance = instance  # creates the SQLite schema before the daemon opens it
            deployment.start()
            try:
                yield deployment
            finally:
                deployment.stop()


def test_a_run_worker_killed_mid_step_fails_its_run_frees_its_slot_and_the_pool_moves_on(deployment):
    first = deployment.launch("killed")
    pid = deployment.worker_pid(first)
    assert deployment.claimed_slots() == 1
    os.kill(pid, signal.SIGKILL)
    deployment.wait(lambda: deployment.status(first) == dg.DagsterRunStatus.FAILURE, "the run to fail")
    deployment.wait(lambda: deployment.claimed_slots() == 0, "the dead run's pool slot to be freed")
    deployment.release("killed")
    second = deployment.launch(
        "killed"
    )  # one slot in the pool: it runs only if the dead run's slot came back
    deployment.wait(lambda: deployment.status(second) == dg.DagsterRunStatus.SUCCESS, "the next run")


def test_a_host_crash_mid_run_is_detected_after_restart_and_the_run_retried(deployment):
    first = deployment.launch("crash", tags={MAX_RETRIES_TAG: "1"})
    pid = deployment.worker_pid(first)
    deployment.crash()
    assert not process_alive(pid)
    assert deployment.status(first) == dg.DagsterRunStatus.STARTED  # nothing could record the crash
    deployment.release("crash")
    deployment.start()
    deployment.wait(lambda: deployment.status(first) == dg.DagsterRunStatus.FAILURE, "the dead run to fail")
    run = deployment.instance.get_run_by_id(first)
    deployment.wait(
        lambda: AUTO_RETRY_RUN_ID_TAG in deployment.instance.get_run_by_id(first).tags, "the retry"
    )
    retry = deployment.instance.get_run_by_id(first).tags[AUTO_RETRY_RUN_ID_TAG]
    deployment.wait(lambda: deployment.status(retry) == dg.DagsterRunStatus.SUCCESS, "the retry to succeed")
    deployment.wait(lambda: deployment.claimed_slots() == 0, "every pool slot to be free")
    messages = [e.message for e in deployment.instance.all_logs(first) if e.dagster_event]
    assert any("is gone" in (m or "") for m in messages), run.status
