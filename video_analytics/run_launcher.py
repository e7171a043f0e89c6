"""Dagster's default run launcher, plus the health check run monitoring needs to notice dead runs.

Dagster's `DefaultRunLauncher` (runs as subprocesses of the code server) does not support
`check_run_worker_health`, so with `run_monitoring` enabled a run whose worker died with its host
(code server, daemon and run worker killed) stayed STARTED for ever: nothing marked it failed, its
pool slots stayed claimed and the DailyMotion sensor waited on it. This launcher answers the health
check from what the code server knows and from the operating system:

* the code server recorded on the run still runs it -> RUNNING;
* otherwise, the run's process (its pid is in the run's "Started process for run" event) still lives
  on this machine -> RUNNING (a code server killed alone leaves its runs going);
* otherwise -> FAILED: run monitoring marks the run failed, the daemon retries it when the run's
  tags allow (`dagster/max_retries`), and `free_slots_after_run_end_seconds` returns its slots.

A run executed in-process (the demo, tests) has no code server tag and is always reported RUNNING.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import DagsterEventType, DagsterRun
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.launcher.default_run_launcher import DefaultRunLauncher
from dagster._serdes import deserialize_value

HEALTH_CHECK_TIMEOUT_SECONDS = 10
_WORKER_MARKERS = (b"dagster", b"multiprocessing")


class HealthCheckedRunLauncher(DefaultRunLauncher):
    """`DefaultRunLauncher` whose runs run monitoring can check (see the module docstring)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        from dagster._grpc.types import CanCancelExecutionRequest, CanCancelExecutionResult

        client = self._get_grpc_client_for_termination(run.run_id)
        if client is None:  # not launched through a code server (in-process) or already finished
            return CheckRunHealthResult(WorkerStatus.RUNNING, "not launched by a code server")
        try:
            answer = client.can_cancel_execution(
                CanCancelExecutionRequest(run_id=run.run_id), timeout=HEALTH_CHECK_TIMEOUT_SECONDS
            )
            if deserialize_value(answer, CanCancelExecutionResult).can_cancel:
                return CheckRunHealthResult(WorkerStatus.RUNNING)
            where = "the code server that launched it no longer runs it"
        except Exception as exc:  # unreachable: the code server died or was restarted elsewhere
            where = f"the code server that launched it is unreachable ({type(exc).__name__})"
        pid = run_process_id(self._instance, run.run_id)
        if pid is not None and process_alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"{where}, but its process {pid} lives")
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"{where} and its process {pid or '(unknown)'} is gone"
        )


def run_process_id(instance, run_id: str) -> int | None:
    """The pid of the run's worker, from the engine event it logs when it starts."""
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        if event is None or not (event.message or "").startswith("Started process for run"):
            continue
        pid = event.engine_event_data.metadata.get("pid")
        if pid is not None:
            return int(pid.value)
    return None


def process_alive(pid: int) -> bool:
    """A live Python/Dagster process with this pid on this machine (a reused pid of another program
    does not count)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc (macOS): the pid exists, trust it
    return any(marker in cmdline for marker in _WORKER_MARKERS)
