"""Small helpers shared by tests that drive real servers."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx

#: The tests that read the session's one demo run (conftest.py's `demo_run`) carry
#: `pytest.mark.xdist_group(DEMO_GROUP)`: `make test` runs `pytest -n 2 --dist loadgroup`, so they run
#: on one worker and the demo is built once, not once per worker.
DEMO_GROUP = "demo"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(
    url: str, query: str, server: subprocess.Popen, variables: dict | None = None, timeout: float = 300.0
) -> dict:
    """POST a GraphQL query to a Dagster webserver, waiting for it to come up; fail if it died.
    `timeout` bounds only a failure: `dagster dev` takes minutes to start on a crowded machine."""
    answers: list[dict] = []

    def answered() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"the Dagster server exited with code {server.returncode}")
        try:
            response = httpx.post(url, json={"query": query, "variables": variables or {}}, timeout=120)
        except httpx.TransportError:
            return False
        if response.status_code == 200:
            answers.append(response.json())
        return bool(answers)

    wait_until(answered, f"the Dagster server at {url} to answer", timeout, interval=0.5)
    return answers[0]


def wait_until(condition, what: str, timeout: float = 60.0, interval: float = 0.01) -> None:
    """Poll `condition` every `interval` seconds until it holds: waits on an event, never for a span of
    time to pass. `timeout` only bounds a failure, so make it generous: a loaded machine is slow."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
