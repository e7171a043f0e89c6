"""DailyMotion assets and the sensor that feeds them.

`dailymotion_reports_sensor` asks DailyMotion for reports, polls them across ticks and, when one is
FINISHED, requests one run that materializes exactly the report's days (the run config holds only the
report token; the run fetches the report's download links itself).

How a user asks for days (e.g. a backfill from the UI): materialize `dm_report_requests` for any
range. That costs nothing and ends green; the sensor reads its materializations from the event log (by
storage id, kept in the sensor's cursor) and serves the days in reports of at most `max_range_days`.
A run cannot fetch the data itself: a report takes up to 2 h and at most two generate at once per
account, which only the sensor can arbitrate.

Materializing `dm_hourly_reports` itself without a report token is served the same way (the run records
the range as an observation and ends without materializing), but Dagster >= 1.13.22 shows such a
backfill as failed (dagster-io/dagster#34219), hence the separate request asset.
"""

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import polars as pl
from pydantic import Field

from video_analytics.dailymotion import scheduling, transforms
from video_analytics.dailymotion.client import DailyMotionClient
from video_analytics.dailymotion.resources import DailyMotionResource
from video_analytics.partitions import daily_partitions, partition_days, partition_range_tags
from video_analytics.settings import Settings

GROUP = "dailymotion"
IO_MANAGER_KEY = "dailymotion_io_manager"
TAGS = {"video_analytics/api": "dailymotion"}
REQUESTS = dg.AssetKey("dm_report_requests")
HOURLY = dg.AssetKey("dm_hourly_reports")
DAILY = dg.AssetKey("dm_daily_video_stats")
SENSOR_NAME = "dailymotion_reports_sensor"
DOWNLOAD_ATTEMPTS = 3


class ReportRunConfig(dg.Config):
    """Set by the sensor; left empty, the run records a request for its days instead.

    Only the report token travels in run config (visible in the UI): the run asks DailyMotion for the
    report's download links itself, since such links are usually signed URLs that work for anyone.
    """

    report_token: str = Field(default="", description="The DailyMotion report this run loads.")


@dg.asset(
    key=REQUESTS,
    group_name=GROUP,
    kinds={"dailymotion"},
    tags=TAGS,
    partitions_def=daily_partitions(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Days you want from DailyMotion: materialize (or backfill) this for any range and "
    "dailymotion_reports_sensor asks the reports and materializes dm_hourly_reports for those days.",
)
def dm_report_requests(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Costs nothing and never fails, so a UI backfill of it ends green; the sensor does the work."""
    days = partition_days(context)
    context.log.info(f"requested {days[0]}..{days[-1]} ({len(days)} days) from {SENSOR_NAME}")
    return dg.MaterializeResult(metadata={"requested_days": len(days)})


HOURLY_CHECKS = [
    dg.AssetCheckSpec("unique_hour_dimension_key", asset=HOURLY, blocking=True),
    dg.AssetCheckSpec("views_non_negative", asset=HOURLY, blocking=True),
    dg.AssetCheckSpec("hours_inside_partition_day", asset=HOURLY, blocking=True),
    dg.AssetCheckSpec("view_through_rate_in_range", asset=HOURLY),
]


@dg.asset(
    key=HOURLY,
    group_name=GROUP,
    kinds={"dailymotion", "polars"},
    tags=TAGS,
    pool="dailymotion",
    partitions_def=daily_partitions(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key=IO_MANAGER_KEY,
    metadata={"partition_column": "day", "bigquery_required": ["day", "hour"]},
    output_required=False,
    check_specs=HOURLY_CHECKS,
    description="One row per hour (UTC) and report dimensions, from DailyMotion partner reports. "
    "Filled by dailymotion_reports_sensor; materializing it yourself asks the sensor for those days.",
)
def dm_hourly_reports(
    context: dg.AssetExecutionContext, config: ReportRunConfig, dailymotion: DailyMotionResource
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    days = partition_days(context)
    if not config.report_token:
        yield from _record_request(context, days)
        return
    token = config.report_token[:8]
    with dailymotion.client() as client:
        links = _report_links(client, config.report_token)
        context.log.info(f"report {token}: {len(links)} file(s) for {days[0]}..{days[-1]}")
        frames = [
            _download(context, client, link, dailymotion, f"file {i + 1}/{len(links)}")
            for i, link in enumerate(links)
        ]
        counters = client.counters()
    dims, metrics = dailymotion.dimensions, dailymotion.metrics
    raw = transforms.raw_report_stats(frames, dims, metrics, days)
    if raw["rows_outside_days"]:
        # Shown as a failed check on the asset, then the run fails before anything is written.
        yield _hours_inside_check(raw["rows_outside_days"])
    frame = transforms.hourly_reports(frames, dims, metrics, days)
    context.log.info(f"report {token}: {raw['raw_rows']} report rows -> {frame.height} hourly rows")
    yield from hourly_checks(frame, days, dailymotion.view_through_rate_max, raw)
    yield dg.Output(
        frame,
        metadata={
            **counters,
            "total_views": int(frame["views"].sum()) if frame.height else 0,
            "videos": frame["video_id"].n_unique() if "video_id" in frame.columns and frame.height else 0,
            "report_files": len(links),
            "report_rows": raw["raw_rows"],
            "duplicate_rows_collapsed": raw["duplicate_rows"],
        },
    )


def _report_links(client: DailyMotionClient, token: str) -> tuple[str, ...]:
    state = client.report_states([token])[token]
    if state.status != "FINISHED":
        why = f": {state.error}" if state.error else ""
        raise DailyMotionReportNotReady(
            f"report {token[:8]} is {state.status}{why}, so it cannot be loaded; {SENSOR_NAME} counts this "
            "run's failure and asks DailyMotion for these days again"
        )
    return state.links


class DailyMotionReportNotReady(Exception):
    """The run's report is no longer downloadable (expired after 48 h, or unknown to DailyMotion)."""


def _record_request(context: dg.AssetExecutionContext, days: list[date]) -> Iterator[dg.AssetCheckResult]:
    """A run without links: write the wanted range to the event log for the sensor, materialize nothing."""
    context.log_event(
        dg.AssetObservation(
            asset_key=HOURLY,
            metadata={"requested_start": days[0].isoformat(), "requested_end": days[-1].isoformat()},
        )
    )
    context.log.info(
        f"dm_hourly_reports {days[0]}..{days[-1]}: requested. {SENSOR_NAME} asks DailyMotion for these days "
        "and materializes them when the reports are ready (make sure the sensor is running)."
    )
    # Check outputs cannot be skipped, so a request run reports them as trivially passed, saying why.
    for spec in HOURLY_CHECKS:
        yield dg.AssetCheckResult(
            check_name=spec.name,
            passed=True,
            description="Request run: nothing was written; the checks run on the sensor's run.",
            metadata={"request_run": True},
        )


def _download(
    context: dg.AssetExecutionContext,
    client: DailyMotionClient,
    link: str,
    resource: DailyMotionResource,
    label: str,
) -> pl.DataFrame:
    """Download and parse one CSV; a truncated body is fetched again, then the run fails clearly."""
    for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
        text = client.download(link)
        try:
            return transforms.parse_report_csv(text, resource.dimensions, resource.metrics, source=label)
        except transforms.ReportFormatError as exc:
            if attempt == DOWNLOAD_ATTEMPTS:
                raise transforms.ReportFormatError(f"{exc} (after {attempt} downloads)") from None
            context.log.warning(f"{exc}; downloading it again")
    raise AssertionError("unreachable")


def _hours_inside_check(outside: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name="hours_inside_partition_day",
        passed=outside == 0,
        description="Rows of the report (as downloaded) whose hour falls outside the run's days",
        metadata={"rows": outside},
    )


def hourly_checks(
    frame: pl.DataFrame, days: list[date], vtr_max: float, raw: dict[str, int]
) -> Iterator[dg.AssetCheckResult]:
    """The issue's data rules, on the report's rows as downloaded (`raw`) and on the rows written.

    Duplicate keys in the report are summed into one row; the check warns how many were collapsed
    (the table stays unique) and fails hard only if the written rows were not unique.
    """
    key = [c for c in frame.columns if c not in {"views", "time_watched_seconds", "view_through_rate"}]
    written = frame.height - frame.select(key).n_unique() if frame.height else 0
    yield dg.AssetCheckResult(
        check_name="unique_hour_dimension_key",
        passed=written == 0 and raw["duplicate_rows"] == 0,
        severity=dg.AssetCheckSeverity.ERROR if written else dg.AssetCheckSeverity.WARN,
        description="One row per hour and dimension key; report rows sharing a key are summed",
        metadata={"duplicate_rows_collapsed": raw["duplicate_rows"], "duplicate_rows_written": written},
    )
    negative = frame.filter(pl.col("views") < 0).height
    yield dg.AssetCheckResult(
        check_name="views_non_negative", passed=negative == 0, metadata={"rows": negative}
    )
    outside = frame.filter((pl.col("hour").dt.date() != pl.col("day")) | ~pl.col("day").is_in(days)).height
    yield _hours_inside_check(outside + raw["rows_outside_days"])
    bad = frame.filter(~pl.col("view_through_rate").is_between(0, vtr_max)).height if frame.height else 0
    yield dg.AssetCheckResult(
        check_name="view_through_rate_in_range",
        passed=bad == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"view_through_rate within [0, {vtr_max:g}]",
        metadata={"rows": bad},
    )


@dg.asset(
    key=DAILY,
    group_name=GROUP,
    kinds={"dailymotion", "polars"},
    tags=TAGS,
    pool="dailymotion",
    partitions_def=daily_partitions(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key=IO_MANAGER_KEY,
    ins={"hourly": dg.AssetIn(HOURLY)},
    metadata={"partition_column": "day", "bigquery_required": ["day", "video_id"]},
    description="Per day and video (and page, device, player, playlist): views and watch time summed, "
    "view-through rate weighted by views, enriched with video, playlist and player metadata.",
)
def dm_daily_video_stats(
    context: dg.AssetExecutionContext, dailymotion: DailyMotionResource, hourly: pl.DataFrame
) -> dg.Output[pl.DataFrame]:
    with dailymotion.client() as client:
        ids = {
            c: hourly[c].drop_nulls().unique().to_list() if c in hourly.columns else []
            for c in ("video_id", "playlist_id", "player_id")
        }
        context.log.info(
            f"enriching {hourly.height} hourly rows: {len(ids['video_id'])} videos, "
            f"{len(ids['playlist_id'])} playlists, {len(ids['player_id'])} players"
        )
        videos = transforms.metadata_frame("video", client.metadata("video", ids["video_id"]))
        playlists = transforms.metadata_frame("playlist", client.metadata("playlist", ids["playlist_id"]))
        players = transforms.metadata_frame("player", client.metadata("player", ids["player_id"]))
        counters = client.counters()
    frame = transforms.daily_video_stats(hourly, videos, playlists, players)
    missing = len(set(ids["video_id"]) - set(videos["video_id"].to_list()))
    if missing:
        context.log.warning(f"{missing} video(s) unknown to the REST API: kept with empty video fields")
    return dg.Output(
        frame,
        metadata={
            **counters,
            "total_views": int(frame["views"].sum()) if frame.height else 0,
            "videos": frame["video_id"].n_unique() if frame.height else 0,
            "videos_without_metadata": missing,
        },
    )


# -- the sensor --------------------------------------------------------------------------------------


class DailyMotionReportsError(Exception):
    """Raised by a sensor tick so a report given up shows as a failed tick in the UI."""


def _records(fetch, key: dg.AssetKey, after: int | None):
    """Every event record of `key` after storage id `after`, oldest first, across pages."""
    cursor = None
    while True:
        page = fetch(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=after),
            limit=500,
            cursor=cursor,
            ascending=True,
        )
        yield from page.records
        if not page.has_more:
            return
        cursor = page.cursor


def new_requests(instance: dg.DagsterInstance, state: dict) -> list[tuple[str, str]]:
    """Days asked for since the cursor's storage ids: `dm_report_requests` materializations (one per
    partition) and request observations on `dm_hourly_reports` (one per range). Moves the ids on."""
    found: list[tuple[str, str]] = []
    after = state.get("request_cursor")
    for record in _records(instance.fetch_materializations, REQUESTS, after):
        if record.partition_key:
            found.append((record.partition_key, record.partition_key))
        after = max(after or 0, record.storage_id)
    state["request_cursor"] = after
    after = state.get("observation_cursor")
    for record in _records(instance.fetch_observations, HOURLY, after):
        metadata = record.event_log_entry.asset_observation.metadata
        start, end = metadata.get("requested_start"), metadata.get("requested_end")
        if start is not None and end is not None:
            found.append((str(start.value), str(end.value)))
        after = max(after or 0, record.storage_id)
    state["observation_cursor"] = after
    return found


def run_statuses(instance: dg.DagsterInstance, tokens) -> dict[str, str]:
    statuses = {}
    for token in tokens:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/run_key": token}), limit=1)
        if runs:
            statuses[token] = runs[0].status.value
    return statuses


def sensor_inputs(context: dg.SensorEvaluationContext, state: dict, now: float) -> scheduling.TickInputs:
    instance = context.instance
    requests = new_requests(instance, state)
    partitions = daily_partitions()
    return scheduling.TickInputs(
        now=now,
        last_day=datetime.fromtimestamp(now, UTC).date() - timedelta(days=1),  # the newest full UTC day
        first_day=partitions.start.date(),
        materialized=frozenset(instance.get_materialized_partitions(HOURLY)),
        new_requests=requests,
        run_status=run_statuses(instance, state["fired"]),
    )


def run_request(report: scheduling.FiredReport) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=report.token,
        asset_selection=[HOURLY, DAILY],
        tags={**partition_range_tags(report.start, report.end), "dailymotion/report": report.token[:8]},
        run_config={"ops": {"dm_hourly_reports": {"config": {"report_token": report.token}}}},
    )


def evaluate(
    context: dg.SensorEvaluationContext, dailymotion: DailyMotionResource, now: float | None = None
) -> dg.SensorResult:
    """One tick: the pure scheduler fed from the instance and the API; the cursor is its state."""
    now = time.time() if now is None else now
    state = scheduling.load_state(context.cursor)
    inputs = sensor_inputs(context, state, now)
    with dailymotion.client() as client:
        result = scheduling.tick(state, inputs, client, dailymotion.scheduler_config())
    for line in result.log:
        context.log.info(line)
    if result.alerts:
        raise DailyMotionReportsError(" | ".join(result.alerts))
    cursor = scheduling.dump_state(result.state)
    runs = [run_request(report) for report in result.fired]
    if runs:
        return dg.SensorResult(run_requests=runs, cursor=cursor)
    return dg.SensorResult(skip_reason=result.summary(), cursor=cursor)


@dg.sensor(
    name=SENSOR_NAME,
    target=[HOURLY, DAILY],
    minimum_interval_seconds=60,
    # On in the sandbox, so `video-analytics ui` shows reports being picked up; a production
    # deployment switches it on in the UI once its credentials are in place.
    default_status=(
        dg.DefaultSensorStatus.RUNNING if Settings.from_env().is_sandbox else dg.DefaultSensorStatus.STOPPED
    ),
    description="Asks DailyMotion for reports of missing and requested days (at most 2 at once), "
    "polls them with backoff, and runs dm_hourly_reports + dm_daily_video_stats when one finishes.",
)
def dailymotion_reports_sensor(
    context: dg.SensorEvaluationContext, dailymotion: DailyMotionResource
) -> dg.SensorResult:
    return evaluate(context, dailymotion)


assets = [dm_report_requests, dm_hourly_reports, dm_daily_video_stats]
sensors = [dailymotion_reports_sensor]
