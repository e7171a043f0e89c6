"""`dm_daily_earnings`: the seed's second DailyMotion report (ESTIMATED_EARNINGS_EUR per day, video,
page and device), loaded through the same sensor-driven report flow as the audience reports.

Its own sensor (`dailymotion_earnings_sensor`) runs the same scheduler with the earnings report's
metrics and dimensions, its own cursor and journal, and at most one report at a time by default:
DailyMotion allows two generating reports per account, shared with the audience sensor, and an ask
refused as busy simply waits for the next tick. Days are asked for the same way (materialize
`dm_report_requests`), and missing recent days are fetched by the look-back window.

Functions import polars and the transforms where they run: every process loads this module with the
definitions, and only the steps need them. The assets return polars DataFrames; their signatures do
not say so, because Dagster resolves them when the asset is defined (other functions quote theirs).
"""

from collections.abc import Iterator

import dagster as dg

from video_analytics.dailymotion.assets import (
    EARNINGS,
    EARNINGS_FLOW,
    EARNINGS_SENSOR_NAME,
    ReportRunConfig,
    _download,
    _report_lineage,
    _report_links,
    evaluate,
    record_request,
    report_asset,
)
from video_analytics.dailymotion.resources import DailyMotionResource
from video_analytics.partitions import partition_days


@report_asset(
    EARNINGS,
    ["day", "video_id"],
    "Estimated earnings (EUR) per day, video, page and device, from DailyMotion's daily "
    f"earnings report. Filled by {EARNINGS_SENSOR_NAME}; materializing it yourself asks the sensor.",
)
def dm_daily_earnings(
    context: dg.AssetExecutionContext, config: ReportRunConfig, dailymotion: DailyMotionResource
) -> Iterator[dg.Output]:
    import polars as pl

    from video_analytics.dailymotion import transforms

    days = partition_days(context)
    if not config.report_token:
        record_request(context, days, EARNINGS, EARNINGS_SENSOR_NAME)
        return
    token = config.report_token[:8]
    dims, metrics = dailymotion.earnings_dimensions, dailymotion.earnings_metrics
    with dailymotion.client() as client:
        links = _report_links(client, config.report_token)
        frames = [
            _download(context, client, link, dims, metrics, f"file {i + 1}/{len(links)}")
            for i, link in enumerate(links)
        ]
        counters = client.counters()
    frame = transforms.daily_earnings(frames, dims, metrics, days)
    total = frame["estimated_earnings_eur"].cast(pl.Float64).sum() if frame.height else 0.0
    context.log.info(
        f"earnings report {token}: {frame.height} rows, {total:.2f} EUR for {days[0]}..{days[-1]}"
    )
    yield dg.Output(
        frame,
        metadata={
            **counters,
            "total_earnings_eur": round(float(total), 2),
            "videos": frame["video_id"].n_unique() if frame.height else 0,
            "report_files": len(links),
            "dailymotion_report": token,
            **_report_lineage(context.run.tags),
        },
    )


@dg.sensor(
    name=EARNINGS_SENSOR_NAME,
    target=[EARNINGS],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,  # `definitions.build` starts it in the sandbox
    description="Asks DailyMotion for daily earnings reports of missing and requested days (one at a "
    "time: the account's two report slots are shared with the audience reports) and runs "
    "dm_daily_earnings when one finishes.",
)
def dailymotion_earnings_sensor(
    context: dg.SensorEvaluationContext, dailymotion: DailyMotionResource
) -> dg.SensorResult:
    return evaluate(context, dailymotion, flow=EARNINGS_FLOW)


assets = [dm_daily_earnings]
sensors = [dailymotion_earnings_sensor]
