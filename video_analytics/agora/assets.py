"""Agora assets: per-stream stats (+ rejects) from a day of player logs, and per-video daily QoE.

The asset bodies only wire the log reader to the engine and the stages; data rules live in
`parsing.py`, `stream_events.py`, `stream_walk.py` and `video_stats.py`.

Functions import polars and those modules where they run: every process loads this module with the
definitions, and only the steps need them. The assets' signatures do not name polars types, because
Dagster resolves them when the asset is defined (other functions quote theirs).
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from video_analytics.agora import configuration
from video_analytics.agora.resources import AgoraLogsResource
from video_analytics.checks import daily_check_spec, day_results, evaluations_after_materialization
from video_analytics.hints import launchpad_hint
from video_analytics.partitions import daily_partitions, partition_days, previous_day
from video_analytics.policies import when_upstream_lands
from video_analytics.storage.parquet import EncodedPartitions

if TYPE_CHECKING:
    import polars as pl

    from video_analytics.agora import engine
    from video_analytics.agora.client import LogReader

GROUP = "agora"
KINDS = {"polars", "parquet"}
REJECT_SHARE_WARN = 0.05  # more than 5% of a day's lines rejected deserves a look
#: A backfill of N days is N runs: the run queue (and the celery executor in the distributed profile)
#: spreads them over processes and workers, where one run would loop over the days on one core set.
#: A day of logs is minutes of scanning, so a run's fixed cost (seconds) is small beside it.
DAYS_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)


class AgoraConfig(dg.Config):
    allow_missing_days: bool = Field(
        default=False,
        description="Write empty partitions for days without log files instead of failing the run.",
    )


SESSION_CHECKS = [
    daily_check_spec("unique_stream_per_day", "agora_session_stats", blocking=True),
    daily_check_spec("counts_non_negative", "agora_session_stats", blocking=True),
    daily_check_spec("rejected_share_below_5pct", "agora_session_stats"),
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
    backfill_policy=DAYS_PER_RUN,
    pool="agora",
)
def agora_session_stats(
    context: dg.AssetExecutionContext, config: AgoraConfig, agora_logs: AgoraLogsResource
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    from video_analytics.agora import custom_fields, engine

    reader = agora_logs.reader()
    fields = agora_logs.field_specs()
    days = partition_days(context)
    missing = [day for day in days if not reader.day_files(day)]
    if missing and not config.allow_missing_days:
        raise dg.Failure(missing_days_message(reader.root, missing))
    # each day is encoded as it completes: a multi-day run holds one day's rows at a time
    sessions, rejects = EncodedPartitions(), EncodedPartitions()
    summaries: list[DaySummary] = []
    for day in days:
        result = None if day in missing else _analyse(context, config, agora_logs, reader, day, fields)
        if result is None:
            result = engine.DayResult(
                custom_fields.attach(engine.empty_sessions(), [], fields), _no_rejects()
            )
        day_sessions = add_geography(context, agora_logs, result.sessions)
        summaries.append(DaySummary.of(day, day_sessions, result))
        sessions.add(day.isoformat(), day_sessions)
        rejects.add(day.isoformat(), result.rejects)
        del result, day_sessions
    yield dg.Output(
        sessions,
        output_name="agora_session_stats",
        metadata={
            **_sum_counters(summaries),
            **reader.counters.as_metadata(),
            "watch_hours": round(sum(s.watch_hours for s in summaries), 2),
            "geo_located_streams": sum(s.located for s in summaries),
            "invalid_utf8_lines": sum(s.invalid_utf8_lines for s in summaries),
        },
    )
    yield dg.Output(
        rejects,
        output_name="agora_rejects",
        metadata={
            "rejected_lines": rejects.height,
            "by_reason": dg.MetadataValue.json(dict(sorted(_reasons(summaries).items()))),
        },
    )
    yield from evaluations_after_materialization(
        context, [checked for summary in summaries for checked in summary.checks]
    )


def _analyse(
    context: dg.AssetExecutionContext,
    config: AgoraConfig,
    agora_logs: AgoraLogsResource,
    reader: "LogReader",
    day: date,
    fields: tuple[configuration.CustomField, ...],
) -> "engine.DayResult | None":
    """One day through the engine; None for a day whose files are all empty when that is allowed."""
    from video_analytics.agora import engine

    try:
        result = engine.analyse_day(
            reader,
            day,
            bucket_lines=agora_logs.bucket_lines,
            log=context.log.info,
            fields=fields,
            warn=context.log.warning,
            scan_threads=agora_logs.threads(),
        )
    except FileNotFoundError as exc:  # every file of the day is empty: a failed upload
        if not config.allow_missing_days:
            raise dg.Failure(unusable_day_message(day, exc)) from exc
        context.log.warning(f"{exc}: writing an empty partition (allow_missing_days)")
        return None
    context.log.info(f"agora {day}: {result.counters()}")
    return result


@dataclass
class DaySummary:
    """What the run's metadata and checks keep of a day once its rows are encoded."""

    counters: dict[str, int]
    reasons: Counter
    watch_hours: float
    located: int
    invalid_utf8_lines: int
    checks: list[tuple[str, dg.AssetCheckResult]]

    @classmethod
    def of(cls, day: date, sessions: "pl.DataFrame", result: "engine.DayResult") -> "DaySummary":
        counters = result.counters()
        return cls(
            counters,
            result.reasons,
            float(sessions["watch_time"].sum() / 3600) if sessions.height else 0.0,
            sessions.height - sessions["geo_country_code"].null_count(),
            result.utf8_replaced.height,
            day_results(day.isoformat(), session_checks(sessions, counters)),
        )


def missing_days_message(root: str, missing: list[date]) -> str:
    """Which days lack logs, where they were looked for, and the two ways forward."""
    shown = ", ".join(day.isoformat() for day in missing[:10]) + (" ..." if len(missing) > 10 else "")
    return (
        f"agora_session_stats: no log files for {len(missing)} day(s): {shown} under {root.rstrip('/')}/"
        "YYYY-MM-DD/ (AGORA_LOG_ROOT); nothing was written. Copy the logs there and re-materialize those "
        "days, or, to write them as empty days, "
        + launchpad_hint("agora_session_stats", "allow_missing_days", "true")
    )


def unusable_day_message(day: date, exc: Exception) -> str:
    return (
        f"agora_session_stats {day}: {exc}; nothing was written. Re-upload the day's logs and "
        "re-materialize it, or, to write it as an empty day, "
        + launchpad_hint("agora_session_stats", "allow_missing_days", "true")
    )


def add_geography(
    context: dg.AssetExecutionContext, agora_logs: AgoraLogsResource, sessions: "pl.DataFrame"
) -> "pl.DataFrame":
    """isp_name and geo_* from the configured MaxMind databases, by client IP; empty (logged) without."""
    from video_analytics.agora import geoip

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


def _no_rejects() -> "pl.DataFrame":
    import polars as pl

    from video_analytics.agora import parsing

    return pl.DataFrame(schema=parsing.REJECT_SCHEMA)


def _reasons(summaries: list[DaySummary]) -> dict[str, int]:
    total: Counter = Counter()
    for summary in summaries:
        total.update(summary.reasons)
    return dict(total)


def _sum_counters(summaries: list[DaySummary]) -> dict[str, int]:
    import polars as pl

    from video_analytics.agora import engine

    names = engine.DayResult(pl.DataFrame(), pl.DataFrame()).counters()
    return {name: sum(s.counters[name] for s in summaries) for name in names}


def session_checks(sessions: "pl.DataFrame", counters: dict[str, int]) -> Iterator[dg.AssetCheckResult]:
    """The checks of one day of agora_session_stats (sessions and the engine's counters of that day)."""
    import polars as pl

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
    daily_check_spec("unique_video_per_day", "agora_video_daily_stats", blocking=True),
    daily_check_spec("percentages_within_0_100", "agora_video_daily_stats"),
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
    backfill_policy=DAYS_PER_RUN,
    check_specs=VIDEO_CHECKS,
    ins={"sessions": dg.AssetIn("agora_session_stats")},
    automation_condition=when_upstream_lands(),
    description="Per video (x_tpmid) and day: views, unique clients, startup median/p95, rebuffer % "
    "and frequency, start failures, exits before start, playback failures, completion, watch hours.",
)
def agora_video_daily_stats(
    context: dg.AssetExecutionContext, sessions
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    import polars as pl

    from video_analytics.agora import video_stats

    frame = video_stats.video_daily_stats(sessions) if sessions.height else _empty_video_stats()
    context.log.info(f"agora_video_daily_stats: {frame.height} video-days from {sessions.height} streams")
    views = int(frame["views"].sum()) if frame.height else 0
    yield dg.Output(
        frame,
        metadata={
            "views": views,
            "videos": frame["x_tpmid"].n_unique() if frame.height else 0,
            "watch_hours": round(float(frame["watch_hours"].sum()), 2) if frame.height else 0.0,
        },
    )
    checked = []
    for day in partition_days(context):
        checked += day_results(day.isoformat(), video_checks(frame.filter(pl.col("date") == day)))
    yield from evaluations_after_materialization(context, checked)


def video_checks(frame: "pl.DataFrame") -> Iterator[dg.AssetCheckResult]:
    """The checks of one day of agora_video_daily_stats."""
    import polars as pl

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


def _empty_video_stats() -> "pl.DataFrame":
    from video_analytics.agora import engine, video_stats

    return video_stats.video_daily_stats(engine.empty_sessions()).clear()


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
