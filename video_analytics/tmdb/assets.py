"""TMDB assets: the tracked movies, daily snapshots and the momentum/virality metrics.

The asset bodies only wire the client to the transforms; the metric rules live in `transforms.py`.

Tracking differs from the original on purpose: the original added every movie the changes feed ever
reported to `movies` and never removed one. Here `tmdb_movies` is the current top N plus the movies
changed in the last 24 hours; every day's snapshot still holds every movie the feed reported that day,
so no changed movie's history is lost, and the set stays bounded (`max_changed_movies`, the original's
unused `max_movies_per_run`).

Functions import polars and the transforms where they run: every process loads this module with the
definitions, and only the steps need them. The assets return polars DataFrames; their signatures do
not say so, because Dagster resolves them when the asset is defined (other functions quote theirs).
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from video_analytics.checks import checks_per_day, per_day, rows_by_day, unique_check, within_check
from video_analytics.partitions import daily_partitions, partition_days, previous_day
from video_analytics.policies import when_upstream_lands
from video_analytics.tmdb.client import TMDBClient
from video_analytics.tmdb.resources import IO_MANAGER_KEY, TMDBResource
from video_analytics.tmdb.thresholds import LOOKBACK_DAYS, Thresholds

if TYPE_CHECKING:
    import polars as pl

GROUP = "tmdb"
TAGS = {"video_analytics/api": "tmdb"}
KINDS = {"tmdb", "polars"}


class MoviesConfig(dg.Config):
    initial_movies: int = Field(
        default=1000, ge=1, le=10_000, description="How many of the most popular movies to track."
    )
    max_changed_movies: int = Field(
        default=5000, ge=0, description="At most this many movies from the changes feed are added."
    )


class SnapshotsConfig(dg.Config):
    list_movies: int = Field(
        default=1000, ge=1, le=10_000, description="Movies read from the ranked list each day (20 a request)."
    )
    max_changed_movies: int = Field(
        default=5000, ge=0, description="At most this many changed movies outside the list fetched a day."
    )
    refresh_all_tracked: bool = Field(
        default=False, description="Also fetch every movie of tmdb_movies (the weekly refresh)."
    )


_DEFAULT = Thresholds()  # the numbers live once, beside the pure transforms


class MetricsConfig(dg.Config):
    """The original's thresholds (config.yaml: momentum 10/5/-5/-10, virality 80/60/40/20), editable
    per run in the launchpad; each default is `Thresholds`'."""

    surging: float = _DEFAULT.surging
    rising: float = _DEFAULT.rising
    stable: float = _DEFAULT.stable
    declining: float = _DEFAULT.declining
    trend_viral_velocity: float = _DEFAULT.trend_viral_velocity
    trend_viral_change: float = _DEFAULT.trend_viral_change
    trend_rising: float = _DEFAULT.trend_rising
    trend_declining: float = _DEFAULT.trend_declining
    extremely_viral: float = _DEFAULT.extremely_viral
    highly_viral: float = _DEFAULT.highly_viral
    moderately_viral: float = _DEFAULT.moderately_viral
    slightly_viral: float = _DEFAULT.slightly_viral
    vote_weight: float = _DEFAULT.vote_weight
    popularity_weight: float = _DEFAULT.popularity_weight


@dg.asset(
    group_name=GROUP,
    io_manager_key=IO_MANAGER_KEY,
    kinds=KINDS,
    tags=TAGS,
    pool="tmdb",
    check_specs=[dg.AssetCheckSpec("unique_movie_id", asset="tmdb_movies", blocking=True)],
    description="The tracked movies with metadata: the N most popular plus movies the changes feed reports.",
)
def tmdb_movies(
    context: dg.AssetExecutionContext, config: MoviesConfig, tmdb: TMDBResource
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    import polars as pl

    from video_analytics.tmdb import transforms

    with tmdb.client() as client:
        ranked = client.most_popular(config.initial_movies)
        ranks = {int(m["id"]): m["rank"] for m in ranked}
        context.log.info(f"tmdb_movies: {len(ranked)} most popular movies listed")
        changed = [i for i in client.recent_changes() if i not in ranks][: config.max_changed_movies]
        context.log.info(f"tmdb_movies: {len(changed)} more movies from the last day's changes feed")
        reasons = {**dict.fromkeys(changed, "changes_feed"), **dict.fromkeys(ranks, "most_popular")}
        details = client.movies([*ranks, *changed])
        frame = transforms.movies_frame(details, reasons, ranks, datetime.now(UTC))
        counters = client.counters
    context.log.info(f"tmdb_movies: {frame.height} movies with details, {counters['api_requests']} requests")
    yield unique_check("unique_movie_id", frame, "movie_id")
    top = frame.filter(pl.col("popularity_rank") == 1)["title"].to_list()
    yield dg.Output(
        frame,
        metadata={**counters, "movies": frame.height, "most_popular": top[0] if top else ""},
    )


def snapshot_day(
    client: TMDBClient, day: date, as_of: date | None, config: SnapshotsConfig, tracked: set[int]
) -> "pl.DataFrame":
    """One day: the ranked list, plus details of changed (and, weekly, all tracked) movies outside it."""
    from video_analytics.tmdb import transforms

    ranked = client.most_popular(config.list_movies, as_of)
    listed = {int(m["id"]) for m in ranked}
    wanted = [i for i in client.changed_ids(day, day) if i not in listed][: config.max_changed_movies]
    if config.refresh_all_tracked:
        wanted += sorted(tracked - listed - set(wanted))
    details = client.movies(wanted, as_of)
    return transforms.snapshot_frame(ranked, details, day, datetime.now(UTC))


SNAPSHOT_CHECKS = [
    dg.AssetCheckSpec("unique_movie_day", asset="tmdb_snapshots", blocking=True),
    dg.AssetCheckSpec("values_in_range", asset="tmdb_snapshots", blocking=True),
]


@dg.asset(
    group_name=GROUP,
    io_manager_key=IO_MANAGER_KEY,
    kinds=KINDS,
    tags=TAGS,
    pool="tmdb",
    partitions_def=daily_partitions(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={"partition_column": "snapshot_date"},
    check_specs=per_day(SNAPSHOT_CHECKS),
    description="Per day: popularity, vote_count and vote_average of the ranked movies and of every "
    "movie the changes feed reports. Past days can be replayed only in the sandbox.",
)
def tmdb_snapshots(
    context: dg.AssetExecutionContext, config: SnapshotsConfig, tmdb: TMDBResource, tmdb_movies
) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    import polars as pl

    days = partition_days(context)
    clocks = [tmdb.as_of(day) for day in days]  # fails before any request if the API cannot serve a day
    tracked = set(tmdb_movies["movie_id"].to_list())
    frames = []
    with tmdb.client() as client:
        for day, as_of in zip(days, clocks, strict=True):
            frame = snapshot_day(client, day, as_of, config, tracked)
            listed = frame.filter(pl.col("source") == "list").height
            context.log.info(f"tmdb_snapshots {day}: {frame.height} movies ({listed} from the ranked list)")
            frames.append(frame)
        counters = client.counters
    frame = pl.concat(frames)
    yield dg.Output(
        frame,
        metadata={**counters, "movies": frame["movie_id"].n_unique(), "total_votes_last_day": _votes(frame)},
    )
    day_rows = rows_by_day(frame, "snapshot_date")
    yield from checks_per_day(context, lambda day: snapshot_checks(day_rows(day)))


def _votes(frame: "pl.DataFrame") -> int:
    import polars as pl

    last = frame.filter(pl.col("snapshot_date") == frame["snapshot_date"].max())
    return int(last["vote_count"].sum() or 0)


def snapshot_checks(frame: "pl.DataFrame") -> Iterator[dg.AssetCheckResult]:
    import polars as pl

    yield unique_check("unique_movie_day", frame, ["movie_id", "snapshot_date"])
    bad = frame.filter(
        (pl.col("popularity") < 0)
        | (pl.col("vote_count") < 0)
        | ~pl.col("vote_average").is_between(0, 10)
        | pl.col("popularity").is_null()
    ).height
    yield dg.AssetCheckResult(check_name="values_in_range", passed=bad == 0, metadata={"rows": bad})


METRIC_CHECKS = [
    dg.AssetCheckSpec("unique_movie_day", asset="tmdb_movie_metrics", blocking=True),
    dg.AssetCheckSpec("viral_coefficient_within_0_100", asset="tmdb_movie_metrics", blocking=True),
    dg.AssetCheckSpec("categories_known", asset="tmdb_movie_metrics"),
]


@dg.asset(
    group_name=GROUP,
    io_manager_key=IO_MANAGER_KEY,
    kinds={"polars"},
    partitions_def=daily_partitions(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={"partition_column": "snapshot_date"},
    check_specs=per_day(METRIC_CHECKS),
    automation_condition=when_upstream_lands(all_inputs_required=False),
    ins={
        "tmdb_snapshots": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-LOOKBACK_DAYS, allow_nonexistent_upstream_partitions=True
            ),
            metadata={"allow_missing_partitions": True},
        )
    },
    description="Per movie and day: day-over-day and 7-day changes, 7-day moving average, week-over-week "
    "change, momentum and trend, vote velocity and acceleration, viral coefficient and category, "
    "all on calendar days (a missing day gives null).",
)
def tmdb_movie_metrics(
    context: dg.AssetExecutionContext, config: MetricsConfig, tmdb_snapshots
) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    import polars as pl

    from video_analytics.tmdb import transforms

    days = partition_days(context)
    present = (
        set(tmdb_snapshots["snapshot_date"].to_list()) if "snapshot_date" in tmdb_snapshots.columns else set()
    )
    missing = [d.isoformat() for d in days if d not in present]
    if missing:
        raise dg.Failure(
            f"tmdb_snapshots has no rows for {', '.join(missing[:10])}: materialize those days first "
            "(metrics also read the 14 days before each day, which may be missing)."
        )
    thresholds = Thresholds(**config.model_dump())
    frame = transforms.movie_metrics(tmdb_snapshots, days, thresholds)
    context.log.info(
        f"tmdb_movie_metrics {days[0]}..{days[-1]}: {frame.height} rows from "
        f"{tmdb_snapshots.height} snapshot rows; "
        f"{frame['viral_coefficient'].null_count()} without a 7-day lag"
    )
    viral = frame.filter(pl.col("virality_category").is_in(["Extremely Viral", "Highly Viral"]))
    yield dg.Output(
        frame,
        metadata={
            "movies": frame["movie_id"].n_unique(),
            "highly_viral_movie_days": viral.height,
            "rows_with_viral_coefficient": frame.height - frame["viral_coefficient"].null_count(),
        },
    )
    day_rows = rows_by_day(frame, "snapshot_date")
    yield from checks_per_day(context, lambda day: metric_checks(day_rows(day)))


def metric_checks(frame: "pl.DataFrame") -> Iterator[dg.AssetCheckResult]:
    import polars as pl

    from video_analytics.tmdb import transforms

    yield unique_check("unique_movie_day", frame, ["movie_id", "snapshot_date"])
    yield within_check(
        "viral_coefficient_within_0_100",
        frame,
        "viral_coefficient",
        0,
        100,
        severity=dg.AssetCheckSeverity.ERROR,
    )
    unknown = frame.filter(
        ~pl.col("momentum_status").is_in(transforms.MOMENTUM_CATEGORIES)
        | ~pl.col("trend_category").is_in(transforms.TREND_CATEGORIES)
        | ~pl.col("virality_category").is_in(transforms.VIRALITY_CATEGORIES)
    ).height
    yield dg.AssetCheckResult(
        check_name="categories_known",
        passed=unknown == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rows": unknown},
    )


@dg.schedule(
    cron_schedule="0 2 * * *",
    target=[tmdb_snapshots, tmdb_movie_metrics],
    execution_timezone="UTC",
    name="tmdb_daily",
    description="02:00 UTC (config.yaml's time): yesterday's changes and snapshot, then its metrics.",
)
def tmdb_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = previous_day(context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"tmdb-daily-{day}", partition_key=day)


@dg.schedule(
    cron_schedule="0 3 * * 0",
    target=[tmdb_movies],
    execution_timezone="UTC",
    name="tmdb_weekly_movies",
    description="Sundays 03:00 UTC: reload the tracked movies' metadata.",
)
def tmdb_weekly_movies_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"tmdb-weekly-movies-{previous_day(context.scheduled_execution_time)}")


@dg.schedule(
    cron_schedule="30 3 * * 0",
    target=[tmdb_snapshots, tmdb_movie_metrics],
    execution_timezone="UTC",
    name="tmdb_weekly_refresh",
    description="Sundays 03:30 UTC: re-snapshot yesterday with every tracked movie, then its metrics.",
)
def tmdb_weekly_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = previous_day(context.scheduled_execution_time)
    return dg.RunRequest(
        run_key=f"tmdb-weekly-refresh-{day}",
        partition_key=day,
        run_config={"ops": {"tmdb_snapshots": {"config": {"refresh_all_tracked": True}}}},
    )


assets = [tmdb_movies, tmdb_snapshots, tmdb_movie_metrics]
schedules = [tmdb_daily_schedule, tmdb_weekly_movies_schedule, tmdb_weekly_refresh_schedule]
