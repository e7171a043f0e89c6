"""DailyMotion in the demo: the sensor is in charge, as in production, played in-process."""

from __future__ import annotations

import time
from datetime import date, timedelta

import dagster as dg

from video_analytics.dailymotion import assets
from video_analytics.dailymotion.resources import DailyMotionResource
from video_analytics.partitions import partition_range_tags
from video_analytics.sandbox.demo_steps import DemoStep, Summary, summarize

POLL_SECONDS = 0.5
TIMEOUT_SECONDS = 300.0


def run_sensor_driven(
    defs: dg.Definitions, instance: dg.DagsterInstance, partition_range: tuple[str, str]
) -> Summary:
    """The demo with the sensor in charge: request the range, then tick the sensor and run what it asks.

    Works like the daemon would, in-process: the request run records the range, each tick is evaluated
    with the stored cursor, and each RunRequest is executed with its own tags and run config. Both
    report flows (audience and earnings) are served.
    """
    job = defs.resolve_implicit_global_asset_job_def()
    start, end = partition_range
    tags = partition_range_tags(*partition_range)
    job.execute_in_process(instance=instance, tags=tags, asset_selection=[assets.REQUESTS])
    wanted = {
        (date.fromisoformat(start) + timedelta(days=i)).isoformat()
        for i in range((date.fromisoformat(end) - date.fromisoformat(start)).days + 1)
    }
    summary: Summary = {}
    cursors: dict[str, str | None] = {}
    deadline = time.monotonic() + TIMEOUT_SECONDS
    resources = {"dailymotion": _polling_every_tick(defs.resources["dailymotion"])}
    # The earnings flow (one report at a time) ticks first: the audience flow, which may take both of
    # the account's slots, then fills the other one, so both kinds of report generate side by side.
    flows = (assets.EARNINGS_FLOW, assets.AUDIENCE_FLOW)
    while not all(wanted <= instance.get_materialized_partitions(flow.target) for flow in flows):
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"DailyMotion demo: reports for {start}..{end} not served in {TIMEOUT_SECONDS:.0f}s"
            )
        next_tick = time.monotonic() + POLL_SECONDS
        # Every flow ticks (asking for reports) before any run loads one: reports generate meanwhile.
        fired = [
            (flow, request) for flow in flows for request in _tick(defs, instance, flow, cursors, resources)
        ]
        for flow, request in fired:
            _run_request(job, instance, request, flow.sensor_name, summary)
        time.sleep(max(0.0, next_tick - time.monotonic()))
    return summary


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, flow, cursors: dict, resources: dict) -> list:
    """One evaluation of the flow's sensor with its stored cursor, as the daemon would; its run requests."""
    sensor = defs.resolve_sensor_def(flow.sensor_name)
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursors.get(flow.sensor_name),
        resources=resources,
        sensor_name=flow.sensor_name,
    )
    result = sensor(context)
    cursors[flow.sensor_name] = result.cursor
    assets.record_asset_events(instance, result)
    return list(result.run_requests or [])


def _polling_every_tick(configured: DailyMotionResource) -> DailyMotionResource:
    """The same resource as the definitions' (EnvVar credentials kept), polling every tick instead of
    every minute (and never less often: a report is noticed within a tick of finishing)."""
    fields = {name: getattr(configured, name) for name in DailyMotionResource.model_fields}
    polling = {"poll_initial_seconds": POLL_SECONDS, "poll_max_seconds": POLL_SECONDS}
    return DailyMotionResource(**{**fields, **polling})


def _run_request(
    job, instance: dg.DagsterInstance, request: dg.RunRequest, sensor_name: str, summary: Summary
) -> None:
    """What the daemon does with a sensor's RunRequest, in-process; its figures go into `summary`."""
    run = job.execute_in_process(
        instance=instance,
        run_config=request.run_config,
        tags={**request.tags, "dagster/run_key": request.run_key, "dagster/sensor_name": sensor_name},
        asset_selection=list(request.asset_selection),
    )
    for name, entry in summarize(run).items():
        total = summary.setdefault(name, {"partitions": 0, "rows": 0, "api_requests": 0})
        total["partitions"] += entry["partitions"]
        total["rows"] += entry["rows"] or 0
        total["api_requests"] += entry["api_requests"]


STEPS = (
    DemoStep(
        "DailyMotion reports (sensor-driven)",
        ("dm_report_requests", "dm_hourly_reports", "dm_daily_video_stats", "dm_daily_earnings"),
        partitioned=True,
        runner=run_sensor_driven,
    ),
)
