"""Agora assets: per-stream stats (+ rejects) from a day of player logs, and per-video daily QoE.

The asset bodies only wire the log reader to the engine and transforms; data rules live in
`transforms.py`.
"""

from collections.abc import Iterator

import dagster as dg
import polars as pl
from pydantic import Field

from video_analytics.agora import custom_fields, engine, geoip, transforms
from video_analytics.agora.resources import AgoraLogsResource
from video_analytics.partitions import daily_partitions, partition_days, previous_day
from video_analytics.policies import when_upstream_lands

GROUP = "agora"
KINDS = {"polars", "parquet"}
REJECT_SHARE_WARN = 0.05  # more than 5% of a day's lines rejected deserves a look


class AgoraConfig(dg.Config):
    allow_missing_days: bool = Field(
        default=False,
        description="Write empty partitions for days without log files instead of failing the run.",
    )


SESSION_CHECKS = [
    dg.AssetCheckSpec("unique_stream_per_day", asset="agora_session_stats", blocking=True),
    dg.AssetCheckSpec("counts_non_negative", asset="agora_session_stats", blocking=True),
    dg.AssetCheckSpec("rejected_share_below_5pct", asset="agora_session_stats"),
]


@dg.multi_asset(
    outs={
        "agora_session_stats": dg.AssetOut(
            group_name=GROUP,
            kinds=KINDS,
            description="One row per stream (view) and day: the original Agora output fields, "
            "defects fixed, plus QoE metrics (startup, failures, rebuffering, seeks, watch time).",
            metadata={"partition_column": "date"},
        ),
        "agora_rejects": dg.AssetOut(
            group_name=GROUP,
            kinds=KINDS,
            description="Every log line that did not become an event, with file, line number and reason.",
            metadata={"partition_column": "date"},
        ),
    },
    check_specs=SESSION_CHECKS,
    partitions_def=daily_partitions(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="agora",
)
def agora_session_stats(
    context: dg.AssetExecutionContext, config: AgoraConfig, agora_logs: AgoraLogsResource
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    reader = agora_logs.reader()
    fields = agora_logs.field_specs()
    results = []
    for day in partition_days(context):
        try:
            results.append(
                engine.analyse_day(
                    reader,
                    day,
                    bucket_lines=agora_logs.bucket_lines,
                    log=context.log.info,
                    fields=fields,
                    warn=context.log.warning,
                )
            )
        except FileNotFoundError as exc:
            if not config.allow_missing_days:
                raise dg.Failure(f"{exc}; set allow_missing_days to write an empty day") from exc
            context.log.warning(f"{exc}: writing an empty partition")
        else:
            context.log.info(f"agora {day}: {results[-1].counters()}")
    empty = custom_fields.attach(engine.empty_sessions(), [], fields)
    sessions = add_geography(context, agora_logs, _stack([r.sessions for r in results], empty))
    rejects = _stack([r.rejects for r in results], pl.DataFrame(schema=transforms.REJECT_SCHEMA))
    counters = _sum_counters(results)
    yield from session_checks(sessions, counters)
    watch_hours = float(sessions["watch_time"].sum() / 3600) if sessions.height else 0.0
    located = sessions.height - sessions["geo_country_code"].null_count()
    yield dg.Output(
        sessions,
        output_name="agora_session_stats",
        metadata={
            **counters,
            **reader.counters.as_metadata(),
            "watch_hours": round(watch_hours, 2),
            "geo_located_streams": located,
            "invalid_utf8_lines": sum(r.utf8_replaced.height for r in results),
        },
    )
    yield dg.Output(
        rejects,
        output_name="agora_rejects",
        metadata={
            "rejected_lines": rejects.height,
            "by_reason": dg.MetadataValue.json(dict(sorted(_reasons(results).items()))),
        },
    )


def add_geography(
    context: dg.AssetExecutionContext, agora_logs: AgoraLogsResource, sessions: pl.DataFrame
) -> pl.DataFrame:
    """isp_name and geo_* from the configured MaxMind databases, by client IP; empty (logged) without."""
    try:
        lookup = agora_logs.geo_lookup()
    except geoip.GeoDatabaseError as exc:
        raise dg.Failure(f"{exc}; fix or unset the setting") from exc
    if not lookup.configured:
        context.log.info(
            "agora: no GeoIP database set (AGORA_GEOIP_DATABASE, AGORA_ISP_DATABASE): "
            "isp_name and geo_* stay empty"
        )
        return sessions
    try:
        return geoip.with_geography(sessions, lookup.places(sessions["client_id"]))
    finally:
        lookup.close()


def _stack(frames: list[pl.DataFrame], empty: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(frames, how="vertical") if frames else empty


def _reasons(results: list[engine.DayResult]) -> dict[str, int]:
    total: dict[str, int] = {}
    for result in results:
        for reason, count in result.reasons.items():
            total[reason] = total.get(reason, 0) + count
    return total


def _sum_counters(results: list[engine.DayResult]) -> dict[str, int]:
    names = engine.DayResult(pl.DataFrame(), pl.DataFrame()).counters()
    return {name: sum(r.counters()[name] for r in results) for name in names}


def session_checks(sessions: pl.DataFrame, counters: dict[str, int]) -> Iterator[dg.AssetCheckResult]:
    duplicates = sessions.height - sessions.select("date", "key").n_unique() if sessions.height else 0
    yield dg.AssetCheckResult(
        asset_key="agora_session_stats",
        check_name="unique_stream_per_day",
        passed=duplicates == 0,
        metadata={"duplicate_rows": duplicates},
    )
    count_columns = [
        "buffer_start_events",
        "buffering_events",
        "initial_buffering_length",
        "rebuffer_count",
        "seek_count",
        "watch_time",
        "rebuffer_duration",
    ]
    negative = sessions.filter(pl.any_horizontal(pl.col(c) < 0 for c in count_columns)).height
    yield dg.AssetCheckResult(
        asset_key="agora_session_stats",
        check_name="counts_non_negative",
        passed=negative == 0,
        metadata={"rows": negative},
    )
    # unreadable lines and bad data; keyless lines are not counted: real logs are mostly other apps'
    # events without a tracking id (73% of the public GoonHilly sample), which the original skipped
    total = counters["total_events"]
    rejected = counters["unparsable_events"] + counters["bad_data_events"]
    share = rejected / total if total else 0.0
    yield dg.AssetCheckResult(
        asset_key="agora_session_stats",
        check_name="rejected_share_below_5pct",
        passed=share <= REJECT_SHARE_WARN,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rejected_share": round(share, 5),
            "rejected_lines": rejected,
            "keyless_share": round(counters["keyless_events"] / total if total else 0.0, 5),
        },
    )


VIDEO_CHECKS = [
    dg.AssetCheckSpec("unique_video_per_day", asset="agora_video_daily_stats", blocking=True),
    dg.AssetCheckSpec("percentages_within_0_100", asset="agora_video_daily_stats"),
]
PERCENT_COLUMNS = [
    "rebuffer_percentage",
    "video_start_failure_percentage",
    "exits_before_video_start_percentage",
    "playback_failure_percentage",
    "completion_percentage",
]


@dg.asset(
    group_name=GROUP,
    kinds=KINDS,
    partitions_def=daily_partitions(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=VIDEO_CHECKS,
    ins={"sessions": dg.AssetIn("agora_session_stats")},
    automation_condition=when_upstream_lands(),
    description="Per video (x_tpmid) and day: views, unique clients, startup median/p95, rebuffer % "
    "and frequency, start failures, exits before start, playback failures, completion, watch hours.",
)
def agora_video_daily_stats(
    context: dg.AssetExecutionContext, sessions: pl.DataFrame
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    frame = transforms.video_daily_stats(sessions) if sessions.height else _empty_video_stats()
    context.log.info(f"agora_video_daily_stats: {frame.height} video-days from {sessions.height} streams")
    duplicates = frame.height - frame.select("date", "x_tpmid").n_unique() if frame.height else 0
    yield dg.AssetCheckResult(
        check_name="unique_video_per_day", passed=duplicates == 0, metadata={"duplicate_rows": duplicates}
    )
    outside = frame.filter(pl.any_horizontal(~pl.col(c).is_between(0, 100) for c in PERCENT_COLUMNS)).height
    yield dg.AssetCheckResult(
        check_name="percentages_within_0_100",
        passed=outside == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rows": outside},
    )
    views = int(frame["views"].sum()) if frame.height else 0
    yield dg.Output(
        frame,
        metadata={
            "views": views,
            "videos": frame["x_tpmid"].n_unique() if frame.height else 0,
            "watch_hours": round(float(frame["watch_hours"].sum()), 2) if frame.height else 0.0,
        },
    )


def _empty_video_stats() -> pl.DataFrame:
    return transforms.video_daily_stats(engine.empty_sessions()).clear()


@dg.schedule(
    cron_schedule="30 2 * * *",
    target=[agora_session_stats, agora_video_daily_stats],
    execution_timezone="UTC",
    name="agora_daily",
    description="Every night: analyse yesterday's player logs (the original ran as a cron'd EMR job).",
)
def agora_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = previous_day(context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"agora-{day}", partition_key=day)


assets = [agora_session_stats, agora_video_daily_stats]
schedules = [agora_daily_schedule]
