"""Fixtures of the distributed tests: a real Redis server (the broker and the shared rate-limit store)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

#: Tests that measure throughput or start a cluster need the machine to themselves: they run in
#: `make test-cluster` (serially; CI runs it after `make test`), not among `make test`'s parallel workers.
quiet_machine = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        not os.environ.get("VIDEO_ANALYTICS_CLUSTER_TESTS"),
        reason="needs the machine to itself: `make test-cluster` (VIDEO_ANALYTICS_CLUSTER_TESTS=1)",
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """Debian's `redis-server` on a free loopback port, no persistence; yields a redis:// URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not found; `apt-get install redis-server` (.ci/run does)")
    port, workdir = free_port(), tempfile.mkdtemp(prefix="va-redis-")
    args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    server = subprocess.Popen([*args, "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, server)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 120.0) -> None:
    """Poll until the server accepts connections (a readiness probe, bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited: {process.stderr.read().decode()[-500:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not listen on {port} within {timeout}s")
