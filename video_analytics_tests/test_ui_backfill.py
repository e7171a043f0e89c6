"""A partition backfill launched the way the UI launches it, served by `dagster dev`'s daemon.

This is the path our users take: the webserver's GraphQL `launchPartitionBackfill`, the backfill
daemon, the queued run coordinator, the code server, the sandbox over HTTP, the lake. The UI is the
session's one `video-analytics ui` (video_analytics_tests/dagster_ui.py).
"""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from video_analytics_tests.dagster_ui import UI_GROUP, DagsterUI
from video_analytics_tests.support import wait_until

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
#: Bounds only a failure: the backfill daemon, the run queue and a run worker on a crowded machine.
BACKFILL_SECONDS = 600.0

pytestmark = pytest.mark.xdist_group(UI_GROUP)


def test_ui_backfill_of_three_days_lands_three_partitions_in_one_run(dagster_ui: DagsterUI):
    days = [day.isoformat() for day in dagster_ui.days]
    selection = [{"path": ["cms_videos"]}, {"path": ["daily_video_metrics"]}]
    launched = dagster_ui.graphql(LAUNCH, {"params": {"assetSelection": selection, "partitionNames": days}})
    backfill_id = launched["data"]["launchPartitionBackfill"]["backfillId"]
    statuses: list[str] = []

    def finished() -> bool:
        body = dagster_ui.graphql(STATUS, {"id": backfill_id})
        statuses.append(body["data"]["partitionBackfillOrError"]["status"])
        return statuses[-1] != "REQUESTED"

    wait_until(finished, f"backfill {backfill_id} to finish", BACKFILL_SECONDS, interval=0.5)
    assert statuses[-1] == "COMPLETED_SUCCESS", dagster_ui.log_tail()

    files = sorted((dagster_ui.lake / "daily_video_metrics").glob("date=*/part-0.parquet"))
    assert [f.parent.name for f in files] == [f"date={day}" for day in days]
    frame = pl.read_parquet(files)
    assert frame.height > 0 and frame.select("account_id", "video_id", "date").n_unique() == frame.height
    with dagster_ui.instance() as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    metric_runs = [run for run in runs if dg.AssetKey("daily_video_metrics") in (run.asset_selection or ())]
    assert len(metric_runs) == 1, "single-run backfill policy: three days, one run"
