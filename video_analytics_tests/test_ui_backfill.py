"""A partition backfill launched the way the UI launches it, served by `dagster dev`'s daemon.

This is the path our users take: the webserver's GraphQL `launchPartitionBackfill`, the backfill
daemon, the queued run coordinator, the code server, the sandbox over HTTP, the lake.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from video_analytics.sandbox import Sandbox
from video_analytics.sandbox.demo import REPO_ROOT
from video_analytics_tests.support import free_port, graphql

LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
STATUS = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }
"""


def test_ui_backfill_of_three_days_lands_three_partitions_in_one_run(tmp_path: Path):
    home, lake = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = [str(yesterday - timedelta(days=offset)) for offset in (12, 11, 10)]
    with Sandbox(scale="test") as sandbox:
        env = {
            **os.environ,
            **sandbox.env(),
            "DAGSTER_HOME": str(home),
            "VIDEO_ANALYTICS_DATA_DIR": str(lake),
        }
        env.pop("VIDEO_ANALYTICS_PG_URL", None)
        port = free_port()
        dagster = str(Path(sys.executable).with_name("dagster"))
        command = [dagster, "dev", "-m", "video_analytics.definitions", "-h", "127.0.0.1", "-p", str(port)]
        log = (tmp_path / "dev.log").open("w")
        server = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/graphql"
            selection = [{"path": ["cms_videos"]}, {"path": ["daily_video_metrics"]}]
            params = {"assetSelection": selection, "partitionNames": days}
            launched = graphql(url, LAUNCH, server, {"params": params})
            backfill_id = launched["data"]["launchPartitionBackfill"]["backfillId"]
            status = _wait_for_backfill(url, backfill_id, server)
        finally:
            server.terminate()
            server.wait(timeout=60)
    assert status == "COMPLETED_SUCCESS", (tmp_path / "dev.log").read_text()[-3000:]
    files = sorted((lake / "daily_video_metrics").glob("date=*/part-0.parquet"))
    assert [f.parent.name for f in files] == [f"date={day}" for day in days]
    frame = pl.read_parquet(files)
    assert frame.height > 0 and frame.select("account_id", "video_id", "date").n_unique() == frame.height
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as instance:
            metric_runs = [
                run
                for run in instance.get_runs()
                if run.asset_selection and dg.AssetKey("daily_video_metrics") in run.asset_selection
            ]
    finally:
        del os.environ["DAGSTER_HOME"]
    assert len(metric_runs) == 1, "single-run backfill policy: three days, one run"


def _wait_for_backfill(url: str, backfill_id: str, server: subprocess.Popen, timeout: float = 300.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = graphql(url, STATUS, server, {"id": backfill_id})
        status = body["data"]["partitionBackfillOrError"]["status"]
        if status != "REQUESTED":
            return status
        time.sleep(2)
    return "TIMED_OUT"
