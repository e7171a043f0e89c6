"""DailyMotion assets and the sensor that feeds them.

`dailymotion_reports_sensor` asks DailyMotion for reports, polls them across ticks and, when one is
FINISHED, requests one run that materializes exactly the report's days (the run config holds only the
report token; the run fetches the report's download links itself).

How a user asks for days (e.g. a backfill from the UI): materialize `dm_report_requests` for any
range. That costs nothing and ends green; the sensor reads its materializations from the event log (by
storage id, kept in the sensor's cursor) and serves the days in reports of at most `max_range_days`.
A run cannot fetch the data itself: a report takes up to 2 h and at most two generate at once per
account, which only the sensor can arbitrate. While a report generates, the sensor records it on
`dm_hourly_reports` as an observation per day ("pending"); the run that loads it carries the request's
run id and the report in its tags, and `dm_report_requests` is upstream of `dm_hourly_reports`.

Materializing `dm_hourly_reports` itself without a report token is served the same way (the run records
the range as an observation and ends without materializing; its checks are then skipped, not passed),
but Dagster >= 1.13.22 shows such a backfill as failed (dagster-io/dagster#34219), hence the separate
request asset. A day already loaded after it was requested is not asked again.

Functions import polars and the transforms where they run: every process loads this module with the
definitions, and only the steps need them. The assets return polars DataFrames; their signatures do
not say so, because Dagster resolves them when the asset is defined (other functions quote theirs).
"""

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluation,
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.storage.tags import (
    AUTO_RETRY_RUN_ID_TAG,
    MAX_RETRIES_TAG,
    RETRY_ON_ASSET_OR_OP_FAILURE_TAG,
    WILL_RETRY_TAG,
)
from pydantic import Field

from video_analytics.checks import rows_by_day
from video_analytics.dailymotion import scheduling
from video_analytics.dailymotion.client import DailyMotionClient
from video_analytics.dailymotion.resources import IO_MANAGER_KEY, DailyMotionResource
from video_analytics.partitions import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    daily_partitions,
    partition_days,
    partition_range_tags,
)
from video_analytics.settings import Settings

if TYPE_CHECKING:
    import polars as pl

GROUP = "dailymotion"
TAGS = {"video_analytics/api": "dailymotion"}
REQUESTS = dg.AssetKey("dm_report_requests")
HOURLY = dg.AssetKey("dm_hourly_reports")
DAILY = dg.AssetKey("dm_daily_video_stats")
SENSOR_NAME = "dailymotion_reports_sensor"
DOWNLOAD_ATTEMPTS = 3
REPORT_TAG = "dailymotion/report"
ASKED_AT_TAG = "dailymotion/report_asked_at"
REQUEST_RUN_TAG = "dailymotion/request_run"
#: A load run whose worker died (host crash, SIGKILL) is retried by the daemon (`run_retries` in
#: dagster.yaml); a run that failed on its data is not: the sensor counts it and asks again.
LOAD_RUN_RETRIES = "2"
EARNINGS = dg.AssetKey("dm_daily_earnings")
EARNINGS_SENSOR_NAME = "dailymotion_earnings_sensor"


@dataclass(frozen=True)
class ReportFlow:
    """One kind of DailyMotion report, served by its own sensor through the same scheduler: the
    asset it loads (whose partitions say which days are done) and the run that loads it."""

    sensor_name: str
    target: dg.AssetKey
    selection: tuple[dg.AssetKey, ...]
    kind: str  # "audience" | "earnings": which metrics and dimensions (see DailyMotionResource)

    @property
    def journal_key(self) -> str:
        return f"video_analytics/{self.sensor_name}/state"


AUDIENCE_FLOW = ReportFlow(SENSOR_NAME, HOURLY, (HOURLY, DAILY), "audience")
EARNINGS_FLOW = ReportFlow(EARNINGS_SENSOR_NAME, EARNINGS, (EARNINGS,), "earnings")
JOURNAL_KEY = AUDIENCE_FLOW.journal_key


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


#: Checks run in their own step after the load (so a run that loads nothing skips them instead of
#: reporting "passed" on nothing) and judge what that run wrote.
HOURLY_CHECKS = [
    dg.AssetCheckSpec(name, asset=HOURLY, blocking=blocking, partitions_def=daily_partitions())
    for name, blocking in (
        ("unique_hour_dimension_key", True),
        ("views_non_negative", True),
        ("hours_inside_partition_day", True),
        ("view_through_rate_in_range", False),
    )
]


def report_asset(key: dg.AssetKey, required: list[str], description: str):
    """An asset a sensor-driven DailyMotion report fills: daily, one run per report, asked for through
    `dm_report_requests`, written only when its report has finished (`output_required=False`)."""
    return dg.asset(
        key=key,
        group_name=GROUP,
        kinds={"dailymotion", "polars"},
        tags=TAGS,
        pool="dailymotion",
        partitions_def=daily_partitions(),
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key=IO_MANAGER_KEY,
        metadata={"partition_column": "day", "bigquery_required": required},
        output_required=False,
        deps=[REQUESTS],
        description=description,
    )


@report_asset(
    HOURLY,
    ["day", "hour"],
    "One row per hour (UTC) and report dimensions, from DailyMotion partner reports. "
    "Filled by dailymotion_reports_sensor; materializing it yourself asks the sensor for those days.",
)
def dm_hourly_reports(
    context: dg.AssetExecutionContext, config: ReportRunConfig, dailymotion: DailyMotionResource
) -> Iterator[dg.Output]:
    from video_analytics.dailymotion import transforms

    days = partition_days(context)
    if not config.report_token:
        record_request(context, days)
        return
    token = config.report_token[:8]
    with dailymotion.client() as client:
        links = _report_links(client, config.report_token)
        context.log.info(f"report {token}: {len(links)} file(s) for {days[0]}..{days[-1]}")
        frames = [
            _download(
                context,
                client,
                link,
                dailymotion.dimensions,
                dailymotion.metrics,
                f"file {i + 1}/{len(links)}",
            )
            for i, link in enumerate(links)
        ]
        counters = client.counters()
    dims, metrics = dailymotion.dimensions, dailymotion.metrics
    raw = transforms.raw_report_stats(frames, dims, metrics, days)
    # Rows outside the run's days fail the step here (the message names them): nothing is written.
    frame = transforms.hourly_reports(frames, dims, metrics, days)
    context.log.info(f"report {token}: {raw['raw_rows']} report rows -> {frame.height} hourly rows")
    yield dg.Output(
        frame,
        metadata={
            **counters,
            "total_views": int(frame["views"].sum()) if frame.height else 0,
            "videos": frame["video_id"].n_unique() if "video_id" in frame.columns and frame.height else 0,
            "report_files": len(links),
            "report_rows": raw["raw_rows"],
            "duplicate_rows_collapsed": raw["duplicate_rows"],
            "dailymotion_report": token,
            **_report_lineage(context.run.tags),
        },
    )


def _report_lineage(tags: dict[str, str]) -> dict[str, dg.MetadataValue]:
    """When the report behind this data was asked, and which run asked for the days (if any)."""
    out: dict[str, dg.MetadataValue] = {}
    if tags.get(ASKED_AT_TAG):
        out["report_asked_at"] = dg.MetadataValue.timestamp(float(tags[ASKED_AT_TAG]))
    if tags.get(REQUEST_RUN_TAG):
        out["requested_by_run"] = dg.MetadataValue.dagster_run(tags[REQUEST_RUN_TAG])
    return out


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


def record_request(
    context: dg.AssetExecutionContext,
    days: list[date],
    target: dg.AssetKey = HOURLY,
    sensor_name: str = SENSOR_NAME,
) -> None:
    """A run without links: write the wanted range to the event log for the sensor, materialize nothing
    (the checks' step is skipped: there is nothing to check)."""
    context.log_event(
        dg.AssetObservation(
            asset_key=target,
            metadata={"requested_start": days[0].isoformat(), "requested_end": days[-1].isoformat()},
        )
    )
    context.log.info(
        f"{target.to_user_string()} {days[0]}..{days[-1]}: requested. {sensor_name} asks DailyMotion for "
        "these days and materializes them when the reports are ready (make sure the sensor is running)."
    )


def _download(
    context: dg.AssetExecutionContext,
    client: DailyMotionClient,
    link: str,
    dimensions: list[str],
    metrics: list[str],
    label: str,
) -> "pl.DataFrame":
    """Download and parse one CSV; a truncated body is fetched again, then the run fails clearly."""
    from video_analytics.dailymotion import transforms

    for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
        text = client.download(link)
        try:
            return transforms.parse_report_csv(text, dimensions, metrics, source=label)
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


@dg.multi_asset_check(
    specs=HOURLY_CHECKS,
    ins={"hourly": dg.AssetIn(HOURLY)},
    description="Judges the rows the run just wrote, and the report as downloaded (from the load's "
    "metadata).",
)
def dm_hourly_reports_checks(
    context: dg.AssetCheckExecutionContext, dailymotion: DailyMotionResource, hourly
) -> Iterator[dg.AssetCheckResult | dg.Output | AssetCheckEvaluation]:
    """One result per check and day, against that day's materialization in this run, so a bad day
    marks that day only. A one-day run reports plain results (Dagster files them under its day); a
    multi-day run closes each check's output empty and yields one evaluation per day, because Dagster
    files a plain result of a range run under no day at all (docs/checks.md)."""
    days = run_days(context.run.tags)
    raw, targets = _load_facts(context.instance, context.run.run_id)
    vtr_max = dailymotion.view_through_rate_max
    if len(days) == 1:
        yield from hourly_checks(hourly, days, vtr_max, raw)
        return
    selected = context.selected_asset_check_keys
    assets_def = context.op_execution_context.assets_def
    for key in sorted(selected, key=str):
        yield dg.Output(None, output_name=assets_def.get_output_name_for_asset_check_key(key))
    rows_of = rows_by_day(hourly, "day")
    for day in days:
        for result in hourly_checks(rows_of(day), [day], vtr_max, raw):
            if dg.AssetCheckKey(HOURLY, result.check_name) in selected:
                yield _day_evaluation(result, day, targets)


def _day_evaluation(
    result: dg.AssetCheckResult,
    day: date,
    targets: Mapping[str, AssetCheckEvaluationTargetMaterializationData],
) -> AssetCheckEvaluation:
    blocking = next(spec.blocking for spec in HOURLY_CHECKS if spec.name == result.check_name)
    return AssetCheckEvaluation(
        asset_key=HOURLY,
        check_name=result.check_name,
        passed=result.passed,
        metadata=result.metadata,
        target_materialization_data=targets.get(day.isoformat()),
        severity=result.severity,
        description=result.description,
        blocking=blocking,
        partition=day.isoformat(),
    )


def run_days(tags: Mapping[str, str]) -> list[date]:
    if RANGE_START_TAG in tags:
        return scheduling.days_of(tags[RANGE_START_TAG], tags[RANGE_END_TAG])
    return [date.fromisoformat(tags["dagster/partition"])]


def _load_facts(
    instance: dg.DagsterInstance, run_id: str
) -> tuple[dict[str, int], dict[str, AssetCheckEvaluationTargetMaterializationData]]:
    """The report's raw figures as this run's load step recorded them, and each day's materialization."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    raw: dict[str, int] | None = None
    targets = {}
    for record in records:
        materialization = record.event_log_entry.asset_materialization
        if materialization is None or materialization.asset_key != HOURLY:
            continue
        raw = {
            "duplicate_rows": int(materialization.metadata["duplicate_rows_collapsed"].value),
            "rows_outside_days": 0,  # the load fails before writing when any row is outside
        }
        if materialization.partition:
            targets[materialization.partition] = AssetCheckEvaluationTargetMaterializationData(
                storage_id=record.storage_id, run_id=run_id, timestamp=record.timestamp
            )
    if raw is None:
        raise dg.Failure(f"run {run_id} has no dm_hourly_reports materialization to check")
    return raw, targets


def hourly_checks(
    frame: "pl.DataFrame", days: list[date], vtr_max: float, raw: dict[str, int]
) -> Iterator[dg.AssetCheckResult]:
    """The issue's data rules, on the report's rows as downloaded (`raw`) and on the rows written.

    Duplicate keys in the report are summed into one row; the check warns how many were collapsed
    (the table stays unique) and fails hard only if the written rows were not unique.
    """
    import polars as pl

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
    context: dg.AssetExecutionContext, dailymotion: DailyMotionResource, hourly
) -> dg.Output:
    from video_analytics.dailymotion import transforms

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


@dataclass
class Requests:
    ranges: list[tuple[str, str]] = field(default_factory=list)
    runs: dict[str, str] = field(default_factory=dict)  # day -> run id that asked for it
    already_loaded: set[str] = field(default_factory=set)  # days loaded after they were asked for


def new_requests(instance: dg.DagsterInstance, state: dict, target: dg.AssetKey = HOURLY) -> Requests:
    """Days asked for since the cursor's storage ids: `dm_report_requests` materializations (one per
    partition) and request observations on `dm_hourly_reports` (one per range). Moves the ids on.

    A day whose `dm_hourly_reports` was materialized after the request is already served (e.g. the
    demo loaded it, or the cursor was reset): it is not asked again.
    """
    found = Requests()
    loaded = instance.event_log_storage.get_latest_storage_id_by_partition(
        target, dg.DagsterEventType.ASSET_MATERIALIZATION
    )

    def add(days: list[str], storage_id: int, run_id: str) -> None:
        wanted = [d for d in days if loaded.get(d, 0) < storage_id]
        found.already_loaded.update(set(days) - set(wanted))
        for start, end in scheduling.group_days(map(date.fromisoformat, wanted), 10**6):
            found.ranges.append((start.isoformat(), end.isoformat()))
        found.runs.update(dict.fromkeys(wanted, run_id))

    after = state.get("request_cursor")
    for record in _records(instance.fetch_materializations, REQUESTS, after):
        if record.partition_key:
            add([record.partition_key], record.storage_id, record.run_id)
        after = max(after or 0, record.storage_id)
    state["request_cursor"] = after
    after = state.get("observation_cursor")
    for record in _records(instance.fetch_observations, target, after):
        metadata = record.event_log_entry.asset_observation.metadata
        start, end = metadata.get("requested_start"), metadata.get("requested_end")
        if start is not None and end is not None:
            days = [d.isoformat() for d in scheduling.days_of(str(start.value), str(end.value))]
            add(days, record.storage_id, record.run_id)
        after = max(after or 0, record.storage_id)
    state["observation_cursor"] = after
    return found


def run_status(instance: dg.DagsterInstance, token: str) -> str | None:
    """The status of the newest run loading `token`, following the daemon's automatic retries.

    A run that failed and will be retried (its worker died: host crash, SIGKILL) is still in flight.
    """
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/run_key": token}), limit=1)
    if not runs:
        return None
    run = runs[0]
    for _ in range(20):  # a chain of retries, bounded
        retry = run.tags.get(AUTO_RETRY_RUN_ID_TAG)
        newer = instance.get_run_by_id(retry) if retry else None
        if newer is None:
            break
        run = newer
    if run.status == dg.DagsterRunStatus.FAILURE and run.tags.get(WILL_RETRY_TAG) == "true":
        return "RETRYING"
    return run.status.value


def run_statuses(instance: dg.DagsterInstance, tokens) -> dict[str, str]:
    statuses = {}
    for token in tokens:
        status = run_status(instance, token)
        if status is not None:
            statuses[token] = status
    return statuses


def loaded_asked_at(
    instance: dg.DagsterInstance, days: list[str], target: dg.AssetKey = HOURLY
) -> dict[str, float]:
    """When the report behind each loaded day's newest data was asked (from its materialization)."""
    if not days:
        return {}
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=target, asset_partitions=days), limit=50
    ).records
    found: dict[str, float] = {}
    for record in records:  # newest first
        asked = record.event_log_entry.asset_materialization.metadata.get("report_asked_at")
        if record.partition_key and record.partition_key not in found and asked is not None:
            found[record.partition_key] = float(asked.value)
    return found


def first_partition_day(context: dg.SensorEvaluationContext, target: dg.AssetKey) -> date:
    """The first day of the target's partitions as the definitions declare them (`build_definitions`
    moved them to the settings' start date); the environment's start date for a tick evaluated
    without its definitions (the demo's in-process ticks)."""
    repository = context.repository_def
    if repository is not None and target in repository.assets_defs_by_key:
        partitions_def = repository.assets_defs_by_key[target].partitions_def
        if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
            return partitions_def.start.date()
    return date.fromisoformat(Settings.from_env().start_date)


def sensor_inputs(
    context: dg.SensorEvaluationContext,
    state: dict,
    now: float,
    settle_days: int = 2,
    flow: ReportFlow = AUDIENCE_FLOW,
) -> scheduling.TickInputs:
    instance = context.instance
    requests = new_requests(instance, state, flow.target)
    if requests.already_loaded:
        days = scheduling.group_days(map(date.fromisoformat, requests.already_loaded), 10**6)
        spans = ", ".join(f"{a}..{b}" for a, b in days)
        context.log.info(f"not asking again for {spans}: loaded after they were requested")
    last_day = datetime.fromtimestamp(now, UTC).date() - timedelta(days=1)  # the newest full UTC day
    settling = [(last_day - timedelta(days=i)).isoformat() for i in range(max(settle_days, 0))]
    return scheduling.TickInputs(
        now=now,
        last_day=last_day,
        first_day=first_partition_day(context, flow.target),
        materialized=frozenset(instance.get_materialized_partitions(flow.target)),
        new_requests=requests.ranges,
        run_status=run_statuses(instance, state["fired"]),
        request_runs=requests.runs,
        loaded_asked_at=loaded_asked_at(instance, settling, flow.target),
    )


def run_request(report: scheduling.FiredReport, flow: ReportFlow = AUDIENCE_FLOW) -> dg.RunRequest:
    tags = {
        **partition_range_tags(report.start, report.end),
        REPORT_TAG: report.token[:8],
        ASKED_AT_TAG: repr(report.asked_at),
        MAX_RETRIES_TAG: LOAD_RUN_RETRIES,
        RETRY_ON_ASSET_OR_OP_FAILURE_TAG: "false",
    }
    if report.request_run:
        tags[REQUEST_RUN_TAG] = report.request_run
    return dg.RunRequest(
        run_key=report.token,
        asset_selection=list(flow.selection),
        tags=tags,
        run_config={"ops": {flow.target.path[-1]: {"config": {"report_token": report.token}}}},
    )


def pending_observations(
    result: scheduling.TickResult, target: dg.AssetKey = HOURLY
) -> list[dg.AssetObservation]:
    """What the UI shows on each day of the target asset while its report generates and loads."""
    events = []
    for token, start, end in result.asked:
        status = "report asked; DailyMotion is generating it (up to 2 h)"
        events += _day_observations(target, token, start, end, status)
    for report in result.fired:
        status = "report ready; load run requested"
        events += _day_observations(target, report.token, report.start, report.end, status)
    return events


def _day_observations(
    target: dg.AssetKey, token: str, start: str, end: str, status: str
) -> list[dg.AssetObservation]:
    metadata = {
        "dailymotion_status": status,
        "dailymotion_report": token[:8],
        "report_days": f"{start}..{end}",
    }
    return [
        dg.AssetObservation(asset_key=target, partition=day.isoformat(), metadata=metadata)
        for day in scheduling.days_of(start, end)
    ]


def load_newest_state(context: dg.SensorEvaluationContext, journal_key: str = JOURNAL_KEY) -> dict:
    """The sensor's state from its cursor, or from the journal when that is newer: the journal is
    written around every ask, so a crash before the tick saved its cursor loses no report token."""
    state = scheduling.load_state(context.cursor)
    saved = context.instance.run_storage.get_cursor_values({journal_key}).get(journal_key)
    journal = scheduling.load_state(saved) if saved else None
    if journal is not None and journal.get("seq", 0) > state.get("seq", 0):
        context.log.info("resuming from the journal: the last tick ended before saving its cursor")
        return journal
    return state


def evaluate(
    context: dg.SensorEvaluationContext,
    dailymotion: DailyMotionResource,
    now: float | None = None,
    flow: ReportFlow = AUDIENCE_FLOW,
) -> dg.SensorResult:
    """One tick: the pure scheduler fed from the instance and the API; the cursor is its state."""
    now = time.time() if now is None else now
    state = load_newest_state(context, flow.journal_key)
    config = dailymotion.scheduler_config(flow.kind)
    inputs = sensor_inputs(context, state, now, config.settle_days, flow)

    def journal(current: Mapping) -> None:
        context.instance.run_storage.set_cursor_values({flow.journal_key: scheduling.dump_state(current)})

    with dailymotion.client() as client:
        result = scheduling.tick(state, inputs, client, config, journal)
    for line in result.log:
        context.log.info(line)
    if result.alerts:
        raise DailyMotionReportsError(" | ".join(result.alerts))
    cursor = scheduling.dump_state(result.state)
    runs = [run_request(report, flow) for report in result.fired]
    events = pending_observations(result, flow.target)
    if runs:
        return dg.SensorResult(run_requests=runs, cursor=cursor, asset_events=events)
    return dg.SensorResult(skip_reason=result.summary(), cursor=cursor, asset_events=events)


def record_asset_events(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    """What the sensor daemon does with a tick's asset events; for in-process ticks (demo, tests)."""
    for event in result.asset_events or []:
        instance.report_runless_asset_event(event)


@dg.sensor(
    name=SENSOR_NAME,
    target=[HOURLY, DAILY],
    minimum_interval_seconds=60,
    # On in the sandbox (`definitions.build`), so `video-analytics ui` shows reports being picked up.
    # Stopped until a deployment switches it on in the UI once its credentials are in place;
    # `definitions.build` starts it in the sandbox.
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Asks DailyMotion for reports of missing and requested days (at most 2 at once), "
    "polls them with backoff, and runs dm_hourly_reports + dm_daily_video_stats when one finishes.",
)
def dailymotion_reports_sensor(
    context: dg.SensorEvaluationContext, dailymotion: DailyMotionResource
) -> dg.SensorResult:
    return evaluate(context, dailymotion)


assets = [dm_report_requests, dm_hourly_reports, dm_daily_video_stats]
asset_checks = [dm_hourly_reports_checks]
sensors = [dailymotion_reports_sensor]
