"""How long a backfill launched from the UI waits before its step starts, and where the wait goes.

Starts the sandbox and `dagster dev` (webserver, daemon, code server) on an instance configured by
`--config` (default: the repository's dagster.yaml), waits until the daemon runs, then launches
partition backfills through the webserver's GraphQL API exactly as the UI's "Launch backfill" does,
one after another, and reads each one's timeline from the instance's event log:

    launched -> run created (backfill daemon) -> dequeued (run queue) -> process started (run
    launcher) -> step started (definitions loaded, resources built) -> step done

Ours against Dagster's default run coordinator (30 s backfill loop, 5 s dequeue), in one run:

    PYTHONPATH=$PWD python benchmarks/ui_backfill_start.py --with-dagster-defaults --launches 2

or any two instance configs side by side (the baseline first): `--config old.yaml --config dagster.yaml`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
from dagster._core.storage.tags import BACKFILL_ID_TAG

from video_analytics.sandbox import Sandbox

LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
STAGES = ("run created", "dequeued", "process started", "step started", "step done", "backfill done")
EVENTS = {
    dg.DagsterEventType.RUN_STARTING: "dequeued",
    dg.DagsterEventType.RUN_START: "process started",
    dg.DagsterEventType.STEP_START: "step started",
    dg.DagsterEventType.STEP_SUCCESS: "step done",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", action="append", help="a dagster.yaml; repeat to compare (default: ours)")
    parser.add_argument(
        "--asset",
        action="append",
        help="assets to backfill (default: cms_videos and daily_video_metrics, as the UI test does)",
    )
    parser.add_argument("--days", type=int, default=2, help="days per backfill")
    parser.add_argument("--launches", type=int, default=3, help="backfills per config, one after another")
    parser.add_argument(
        "--with-dagster-defaults",
        action="store_true",
        help="first measure our dagster.yaml without its run_coordinator (Dagster's 30 s / 5 s loops)",
    )
    args = parser.parse_args()
    configs = args.config or ["dagster.yaml"]
    with tempfile.TemporaryDirectory() as tmp, Sandbox(scale="test") as sandbox:
        if args.with_dagster_defaults:
            configs = [_without_run_coordinator(Path("dagster.yaml"), Path(tmp)), *configs]
        for config in configs:
            rows = []
            for run in _launches(sandbox, Path(config), args):
                rows.append(_timeline(*run))
                print(config, rows[-1], flush=True)
            _report(config, rows)


def _without_run_coordinator(config: Path, folder: Path) -> str:
    """The same instance config with Dagster's default run coordinator: the baseline."""
    text = config.read_text()
    start, end = text.index("run_coordinator:"), text.index("telemetry:")
    baseline = folder / "dagster-defaults.yaml"
    baseline.write_text(text[:start] + text[end:])
    return str(baseline)


def _launches(sandbox: Sandbox, config: Path, args: argparse.Namespace):
    with _dagster_dev(sandbox, config) as (url, instance):
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        for launch in range(args.launches):
            first = yesterday - timedelta(days=(launch + 1) * args.days + 5)
            days = [str(first + timedelta(days=offset)) for offset in range(args.days)]
            assets = args.asset or ["cms_videos", "daily_video_metrics"]
            params = {"assetSelection": [{"path": [a]} for a in assets], "partitionNames": days}
            answer = _graphql(url, LAUNCH, {"params": params})["launchPartitionBackfill"]
            backfill_id = answer.get("backfillId") or sys.exit(f"launch failed: {answer}")
            yield instance, backfill_id, _wait_for_runs(instance, backfill_id)


def _timeline(instance: dg.DagsterInstance, backfill_id: str, runs: list) -> dict[str, float]:
    """Seconds from the launch to each stage of the backfill's first run, and to its last run's end."""
    launched = instance.get_backfill(backfill_id).backfill_timestamp
    run = min(runs, key=lambda record: record.create_timestamp)
    stamps = {"run created": run.create_timestamp.timestamp()}
    for record in instance.all_logs(run.dagster_run.run_id):
        stage = EVENTS.get(record.dagster_event.event_type if record.dagster_event else None)
        if stage and stage not in stamps:
            stamps[stage] = record.timestamp
    stamps["backfill done"] = max(record.end_time or 0.0 for record in runs)
    timeline = {stage: stamps[stage] - launched for stage in STAGES if stage in stamps}
    worst = max(runs, key=lambda record: record.dagster_run.status != dg.DagsterRunStatus.SUCCESS)
    return {**timeline, "status": worst.dagster_run.status.value}


def _wait_for_runs(instance: dg.DagsterInstance, backfill_id: str, timeout: float = 600.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = instance.get_run_records(dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
        backfill = instance.get_backfill(backfill_id)
        if runs and all(r.dagster_run.is_finished for r in runs) and backfill.status.value != "REQUESTED":
            return runs
        time.sleep(0.5)
    sys.exit(f"backfill {backfill_id} did not finish in {timeout:.0f} s")


def _report(config: str, rows: list[dict[str, float]]) -> None:
    print(f"\n{config}: seconds after the launch ({len(rows)} backfills)")
    print(f"{'stage':<16}" + "".join(f"{i + 1:>8}" for i in range(len(rows))) + f"{'median':>8}")
    for stage in STAGES:
        values = [row.get(stage) for row in rows]
        cells = "".join(f"{v:8.1f}" if v is not None else f"{'-':>8}" for v in values)
        known = [v for v in values if v is not None]
        print(f"{stage:<16}{cells}{statistics.median(known) if known else float('nan'):8.1f}")
    print(f"{'run status':<16}" + "".join(f"{row['status'][:7]:>8}" for row in rows))


@contextmanager
def _dagster_dev(sandbox: Sandbox, config: Path):
    # The code server's last run workers may still be writing when it is stopped.
    with tempfile.TemporaryDirectory(prefix="ui-backfill-", ignore_cleanup_errors=True) as tmp:
        home, lake = Path(tmp, "home"), Path(tmp, "data")
        home.mkdir()
        shutil.copyfile(config, home / "dagster.yaml")
        env = {
            **os.environ,
            **sandbox.env(),
            "DAGSTER_HOME": str(home),
            "VIDEO_ANALYTICS_DATA_DIR": str(lake),
        }
        env.pop("VIDEO_ANALYTICS_PG_URL", None)
        os.environ["DAGSTER_HOME"] = str(home)  # our storage class reads it in this process too
        os.environ.pop("VIDEO_ANALYTICS_PG_URL", None)
        port = _free_port()
        dagster = str(Path(sys.executable).with_name("dagster"))
        command = [dagster, "dev", "-m", "video_analytics.definitions", "-h", "127.0.0.1", "-p", str(port)]
        with (home / "dev.log").open("w") as log:
            server = subprocess.Popen(command, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/graphql"
            _graphql(url, "{ version }", timeout=300)
            with dg.DagsterInstance.from_config(str(home)) as instance:
                _wait_for_daemon(instance)
                yield url, instance
        finally:
            server.terminate()
            server.wait(timeout=60)


def _wait_for_daemon(instance: dg.DagsterInstance, timeout: float = 300.0) -> None:
    """The UI is usually open long before a backfill is launched: start once the daemon beats."""
    deadline = time.monotonic() + timeout
    while "BACKFILL" not in instance.get_daemon_heartbeats():
        if time.monotonic() > deadline:
            sys.exit("the daemon did not start")
        time.sleep(0.5)


def _graphql(url: str, query: str, variables: dict | None = None, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.post(url, json={"query": query, "variables": variables or {}}, timeout=60)
            if response.status_code == 200:
                return response.json()["data"]
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"no answer from {url}")
        time.sleep(0.5)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    main()
