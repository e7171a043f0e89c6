"""A dagster-celery cluster on one box for the cluster test: the real pieces, each its own process.

Celery workers start as users start them (`dagster-celery worker start -y deploy/celery/executor.yaml`),
each in a session of its own so that killing one kills its whole process tree, as losing a machine
would. Runs start as `dagster asset materialize` processes, the orchestrators that hand each step
to the workers through the broker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log: Path

    @property
    def ready(self) -> bool:
        return " ready." in self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (the celery parent and its pool children)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@dataclass
class Cluster:
    env: dict[str, str]
    workdir: Path
    executor_yaml: Path
    workers: dict[str, Worker] = field(default_factory=dict)

    def start_worker(self, name: str) -> Worker:
        log = self.workdir / f"worker-{name}.log"
        args = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app"]
        args += ["-y", str(self.executor_yaml), "-n", name, "--", "--concurrency=1", "--without-gossip"]
        with log.open("wb") as out:
            process = subprocess.Popen(
                args, env=self.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.workers[name] = Worker(name, process, log)
        return self.workers[name]

    def wait_until_ready(self, timeout: float = 180.0) -> None:
        """A readiness probe: poll the workers' logs for celery's "ready" line, bounded by `timeout`."""
        wait_for(lambda: all(w.ready for w in self.workers.values()), timeout, self._worker_logs)

    def materialize(self, selection: str, partition: str | None = None, partition_range: str | None = None):
        """Start one run (its orchestrator process); returns the Popen, output in the work folder."""
        args = [str(BIN / "dagster"), "asset", "materialize", "-m", "video_analytics.definitions"]
        args += ["--select", selection]
        if partition:
            args += ["--partition", partition]
        if partition_range:
            args += ["--partition-range", partition_range]
        tag = (partition or partition_range or "all").replace(".", "_")
        log = (self.workdir / f"run-{selection.split(',')[0]}-{tag}.log").open("wb")
        return subprocess.Popen(args, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        for worker in self.workers.values():
            if worker.process.poll() is None:
                worker.kill()

    def _worker_logs(self) -> str:
        tails = (f"--- {w.name}\n{w.log.read_text(errors='replace')[-3000:]}" for w in self.workers.values())
        return "\n".join(tails)


def wait_for(condition: Callable[[], Any], timeout: float, explain: Callable[[], str] = lambda: "") -> Any:
    """Poll `condition` until it is truthy; fail after `timeout` seconds with `explain()`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not reached within {timeout}s\n{explain()}")


def cluster_env(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    env = {**base, **extra}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env
