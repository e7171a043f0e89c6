"""TMDB in the demo: snapshots start two weeks before the demo's range, so its 7-day windows have
history from the first day on."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from video_analytics.sandbox.demo_steps import DemoStep, Summary, run_step

#: Extra days of snapshots the demo takes before its range: vote acceleration compares the last 7 days
#: with the 7 before (a 14-day lag), so every demo day, and v_emerging_viral_trends, has it.
HISTORY_DAYS = 14


def run_with_history(
    defs: dg.Definitions, instance: dg.DagsterInstance, partition_range: tuple[str, str]
) -> Summary:
    """Snapshots from HISTORY_DAYS before the demo range (the sandbox clock replays them), then the
    metrics over the range, so the 7-day windows and the views have history to work with."""
    first = date.fromisoformat(partition_range[0]) - timedelta(days=HISTORY_DAYS)
    history = (first.isoformat(), partition_range[1])
    summary = run_step(DemoStep("snapshots", ("tmdb_snapshots",), True), defs, instance, history)
    summary.update(
        run_step(DemoStep("metrics", ("tmdb_movie_metrics",), True), defs, instance, partition_range)
    )
    return summary


STEPS = (
    DemoStep("TMDB initial load (1000 most popular movies)", ("tmdb_movies",), partitioned=False),
    DemoStep(
        "TMDB snapshots and popularity/virality metrics",
        ("tmdb_snapshots", "tmdb_movie_metrics"),
        partitioned=True,
        runner=run_with_history,
    ),
)
