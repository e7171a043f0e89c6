"""One run of the overlapping-backfills test: Agora session stats and TMDB snapshots for the same days.

Imported by the test (which runs the other, uninterrupted run in its own process) and run as a child:
``python -m video_analytics_tests.operations.overlap_runs LAKE LOG_ROOT TMDB_URL PAUSE_NTH`` with
``DAGSTER_HOME`` set. The child materializes the same selection through the instance in
``DAGSTER_HOME`` and, at the PAUSE_NTH lake rename, prints ``paused <temp path>`` and waits until its
stdin is closed; then it finishes the run and prints ``finished <run id> <success>``.
"""

from __future__ import annotations

import sys

import dagster as dg

from video_analytics.agora import assets as agora_assets
from video_analytics.agora.resources import AgoraLogsResource
from video_analytics.partitions import partition_range_tags
from video_analytics.sandbox.tmdb.simulator import SANDBOX_API_KEY
from video_analytics.storage.parquet import ParquetLakeIOManager
from video_analytics.tmdb import assets as tmdb_assets
from video_analytics.tmdb.resources import TMDBResource
from video_analytics_tests.storage.lake_writer_child import pause_the_writer

DAYS = ("2024-03-01", "2024-03-02")
TRACKED = 40
SELECTION = ["agora_session_stats", "agora_rejects", "tmdb_snapshots"]
ASSETS = [*agora_assets.assets, *tmdb_assets.assets]
CONFIG = {
    "ops": {
        "tmdb_movies": {"config": {"initial_movies": TRACKED}},
        "tmdb_snapshots": {"config": {"list_movies": TRACKED}},
    }
}


def resources(lake: str, log_root: str, tmdb_url: str) -> dict[str, object]:
    lake_io = ParquetLakeIOManager(root=lake)
    tmdb = TMDBResource(
        api_key=SANDBOX_API_KEY,
        base_url=tmdb_url,
        sandbox_clock=True,
        rate_limit=1000.0,
        retry_base_delay=0.01,
    )
    return {
        "io_manager": lake_io,
        tmdb_assets.IO_MANAGER_KEY: lake_io,
        "agora_logs": AgoraLogsResource(log_root=log_root),
        "tmdb": tmdb,
    }


def materialize(
    instance: dg.DagsterInstance, lake: str, log_root: str, tmdb_url: str, selection: list[str] = SELECTION
) -> dg.ExecuteInProcessResult:
    """Materialize `selection` for DAYS as one run (a single-run backfill's shape) in `instance`."""
    ops = {name: value for name, value in CONFIG["ops"].items() if name in selection}
    tags = partition_range_tags(DAYS[0], DAYS[-1]) if selection != ["tmdb_movies"] else {}
    return dg.materialize(
        ASSETS,
        selection=selection,
        instance=instance,
        resources=resources(lake, log_root, tmdb_url),
        run_config={"ops": ops},
        tags=tags,
        raise_on_error=False,
    )


if __name__ == "__main__":
    lake, log_root, tmdb_url, pause_nth = sys.argv[1:5]
    pause_the_writer("renaming", int(pause_nth))
    with dg.DagsterInstance.get() as instance:
        result = materialize(instance, lake, log_root, tmdb_url)
    print(f"finished {result.run_id} {result.success}", flush=True)
