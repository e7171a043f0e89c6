"""`video-analytics demo`: the sandbox, every asset for the last N days (the DuckDB warehouse too), a summary.

Runs go through a real Dagster instance under DAGSTER_HOME, so `video-analytics ui` shows them later.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from video_analytics.sandbox import registry
from video_analytics.sandbox.demo_steps import Summary, run_step
from video_analytics.sandbox.launcher import Sandbox
from video_analytics.sandbox.start_date import START_ENV, record_demo_start
from video_analytics.settings import Settings
from video_analytics.storage.warehouse import table_view_counts

REPO_ROOT = Path(__file__).resolve().parents[2]


def prepare_dagster_home() -> Path:
    """Use $DAGSTER_HOME (default ./.dagster_home) with the project's dagster.yaml in it."""
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    source = REPO_ROOT / "dagster.yaml"
    if source.exists() and not (home / "dagster.yaml").exists():
        shutil.copyfile(source, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def demo_range(days: int, today: date) -> tuple[str, str]:
    end = today - timedelta(days=1)
    return (end - timedelta(days=days - 1)).isoformat(), end.isoformat()


def run_demo(days: int = 14, echo=print, scale: str = "demo") -> Summary:
    """Everything `video-analytics demo` does; returns the per-asset summary it prints."""
    # Imported here, not at the top: importing `video_analytics.definitions` builds its `defs` from
    # the environment, which is the sandbox's only from here on.
    from video_analytics.definitions import build_definitions

    home = prepare_dagster_home()
    partition_range = demo_range(days, datetime.now(UTC).date())
    first = date.fromisoformat(partition_range[0])
    use_demo_start_date(first)
    echo(f"starting the sandbox (simulators on 127.0.0.1) for {days} days ...")
    with Sandbox(today=datetime.now(UTC).date(), scale=scale) as sandbox:
        os.environ.update(sandbox.env())
        os.environ.setdefault("VIDEO_ANALYTICS_PROFILE", "sandbox")
        for source in registry.SANDBOX_SOURCES:
            if source.prepare_demo is not None:
                echo(f"preparing the {source.name} sandbox data ...")
                os.environ.update(source.prepare_demo([first + timedelta(days=i) for i in range(days)]))
        settings = Settings.from_env()
        echo(f"sandbox up; lake at {settings.lake_root}; Dagster instance at {home}")
        echo(f"materializing {partition_range[0]}..{partition_range[1]} ({days} days)")
        summary = run_steps(build_definitions(settings), partition_range, echo)
    views = table_view_counts(settings.warehouse_path)  # built by the last step, duckdb_warehouse
    for name, rows in views.items():  # whole-table counts, where a view bears its asset's name
        if name in summary:
            summary[name]["rows"] = rows
    echo(format_summary(summary, settings.lake_root, settings.warehouse_path, home))
    return summary


def run_steps(defs: dg.Definitions, partition_range: tuple[str, str], echo) -> Summary:
    """Every demo step in order, in the instance under DAGSTER_HOME, with progress lines."""
    summary: Summary = {}
    steps = registry.demo_steps()
    with dg.DagsterInstance.get() as instance:
        for number, step in enumerate(steps, start=1):
            started = time.monotonic()
            echo(f"[{number}/{len(steps)}] {step.title}: {', '.join(step.assets)} ...")
            with step_progress(f"[{number}/{len(steps)}] {step.title}", interactive=echo is print):
                step_summary = run_step(step, defs, instance, partition_range)
            summary.update(step_summary)
            rows = sum(entry["rows"] or 0 for entry in step_summary.values())
            echo(f"      done in {time.monotonic() - started:.1f}s, {rows} rows")
    return summary


@contextmanager
def step_progress(title: str, interactive: bool) -> Iterator[None]:
    """On a terminal, a spinner with the time spent under the step's log lines: Dagster steps log
    per account or partition, yet a quiet minute (a report being prepared) must not look stuck."""
    if not interactive:
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn(title), TimeElapsedColumn(), transient=True) as progress:
        progress.add_task(title, total=None)
        yield


def format_summary(summary: Summary, root: str, warehouse: str, home: Path) -> str:
    lines = ["", f"{'asset':<28}{'partitions':>12}{'rows':>12}{'api requests':>14}"]
    for name, entry in sorted(summary.items()):
        rows = "-" if entry["rows"] is None else entry["rows"]  # no table: views, a report
        lines.append(f"{name:<28}{entry['partitions']:>12}{rows:>12}{entry['api_requests']:>14}")
    lines += [
        "",
        f"Parquet lake:      {root}",
        f"DuckDB warehouse:  {warehouse}",
        f"Dagster instance:  {home}",
        "Query:             video-analytics sql "
        '"SELECT channel, sum(video_view) FROM daily_video_metrics GROUP BY 1"',
        "Open the UI:       video-analytics ui   (then http://127.0.0.1:3000)",
        "Cross-platform:    video-analytics sql "
        '"SELECT platform, sum(views) FROM video_daily_performance GROUP BY 1"',
        "Daily report:      video-analytics report --open",
    ]
    return "\n".join(lines)


def use_demo_start_date(first: date) -> None:
    """In the sandbox, partitions start where the demo's data starts (recorded for `video-analytics ui`):
    its first day, less the history a source loads before it (its registry entry's `history_days`)."""
    settings = Settings.from_env()
    if settings.is_sandbox:
        start = record_demo_start(settings.lake_root, first - timedelta(days=registry.history_days()))
        if not os.environ.get(START_ENV, "").strip():
            os.environ[START_ENV] = start
