"""DailyMotion's contribution to the platform: assets, sensor, resource, storage choice, demo step."""

from __future__ import annotations

import os
import time
from datetime import date, timedelta

import dagster as dg

from video_analytics.dailymotion import assets
from video_analytics.dailymotion.resources import DailyMotionResource
from video_analytics.demo_steps import DemoStep
from video_analytics.partitions import partition_range_tags
from video_analytics.settings import Settings
from video_analytics.storage.targets import io_manager_for, storage_kind, with_storage_kind

URL_SETTINGS = {
    "base_url": "DM_BASE_URL",
    "auth_url": "DM_AUTH_URL",
    "graphql_url": "DM_GRAPH_URL",
    "rest_url": "DM_REST_URL",
}
DEMO_POLL_SECONDS = 0.5
DEMO_TIMEOUT_SECONDS = 300.0


def resource(settings: Settings, **overrides) -> DailyMotionResource:
    """Credentials stay EnvVars (never in run config or logs); URLs come from the seed's variables."""
    urls = {field: os.environ[env] for field, env in URL_SETTINGS.items() if os.environ.get(env)}
    return DailyMotionResource(
        client_id=dg.EnvVar("DM_CLIENT_API"),
        client_secret=dg.EnvVar("DM_CLIENT_SECRET"),
        **urls,
        **overrides,
    )


def io_manager(settings: Settings) -> dg.ConfigurableIOManager:
    """The shared Parquet lake, or BigQuery (VIDEO_ANALYTICS_STORAGE[_DAILYMOTION]=bigquery[+parquet])."""
    return io_manager_for(settings, "dailymotion")


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=with_storage_kind(
            assets.assets, storage_kind(settings, "dailymotion"), skip={assets.REQUESTS}
        ),
        sensors=assets.sensors,
        resources={"dailymotion": resource(settings), assets.IO_MANAGER_KEY: io_manager(settings)},
    )


def run_demo_step(
    defs: dg.Definitions, instance: dg.DagsterInstance, partition_range: tuple[str, str]
) -> dict:
    """The demo with the sensor in charge: request the range, then tick the sensor and run what it asks.

    Works like the daemon would, in-process: the request run records the range, each tick is evaluated
    with the stored cursor, and each RunRequest is executed with its own tags and run config.
    """
    from video_analytics.demo import summarize

    job = defs.resolve_implicit_global_asset_job_def()
    start, end = partition_range
    tags = partition_range_tags(*partition_range)
    job.execute_in_process(instance=instance, tags=tags, asset_selection=[assets.REQUESTS])
    sensor = defs.resolve_sensor_def(assets.SENSOR_NAME)
    wanted = {
        (date.fromisoformat(start) + timedelta(days=i)).isoformat()
        for i in range((date.fromisoformat(end) - date.fromisoformat(start)).days + 1)
    }
    summary: dict[str, dict] = {}
    cursor, deadline = None, time.monotonic() + DEMO_TIMEOUT_SECONDS
    # The same resource as the definitions' (EnvVar credentials), polling every tick instead of every minute.
    configured = defs.resources["dailymotion"]
    fields = {name: getattr(configured, name) for name in DailyMotionResource.model_fields}  # EnvVars kept
    fast = DailyMotionResource(
        **{**fields, "poll_initial_seconds": DEMO_POLL_SECONDS, "poll_max_seconds": 2.0}
    )
    resources = {"dailymotion": fast}
    while not wanted <= instance.get_materialized_partitions(assets.HOURLY):
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"DailyMotion demo: reports for {start}..{end} not served in {DEMO_TIMEOUT_SECONDS:.0f}s"
            )
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=resources, sensor_name=assets.SENSOR_NAME
        )
        result = sensor(context)
        cursor = result.cursor
        for request in result.run_requests or []:
            run = job.execute_in_process(
                instance=instance,
                run_config=request.run_config,
                tags={
                    **request.tags,
                    "dagster/run_key": request.run_key,
                    "dagster/sensor_name": assets.SENSOR_NAME,
                },
                asset_selection=list(request.asset_selection),
            )
            for name, entry in summarize(run).items():
                total = summary.setdefault(name, {"partitions": 0, "rows": 0, "api_requests": 0})
                total["partitions"] += entry["partitions"]
                total["rows"] += entry["rows"]
                total["api_requests"] += entry["api_requests"]
        time.sleep(DEMO_POLL_SECONDS)
    return summary


DEMO_STEPS = (
    DemoStep(
        "DailyMotion reports (sensor-driven)",
        ("dm_report_requests", "dm_hourly_reports", "dm_daily_video_stats"),
        partitioned=True,
        runner=run_demo_step,
    ),
)
