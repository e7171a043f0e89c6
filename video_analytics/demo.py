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

from video_analytics.demo_steps import DemoStep
from video_analytics.partitions import partition_range_tags

REPO_ROOT = Path(__file__).resolve().parents[1]


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


def demo_steps() -> list[DemoStep]:
    from video_analytics.definitions import SOURCES

    return [step for source in SOURCES for step in source.DEMO_STEPS]


def run_step(
    step: DemoStep, defs: dg.Definitions, instance: dg.DagsterInstance, partition_range: tuple[str, str]
) -> dict[str, dict]:
    """Materialize one step; returns metadata per asset of its materializations (summed over partitions)."""
    if step.runner is not None:
        return step.runner(defs, instance, partition_range)
    tags = partition_range_tags(*partition_range) if step.partitioned else {}
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        instance=instance,
        tags=tags,
        asset_selection=[dg.AssetKey(key) for key in step.assets],
    )
    return summarize(result)


def summarize(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    summary: dict[str, dict] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        name = materialization.asset_key.to_user_string()
        entry = summary.setdefault(name, {"partitions": 0, "rows": 0, "api_requests": 0})
        metadata = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
        entry["partitions"] += 1
        entry["rows"] = max(entry["rows"], int(metadata.get("dagster/row_count", 0) or 0))
        entry["api_requests"] = max(entry["api_requests"], int(metadata.get("api_requests", 0) or 0))
    return summary


def run_demo(days: int = 14, echo=print, scale: str = "demo") -> dict[str, dict]:
    """Everything `video-analytics demo` does; returns the per-asset summary it prints."""
    from video_analytics.definitions import SOURCES, build_definitions
    from video_analytics.sandbox import Sandbox
    from video_analytics.settings import Settings
    from video_analytics.storage.warehouse import table_view_counts

    home = prepare_dagster_home()
    partition_range = demo_range(days, datetime.now(UTC).date())
    first = date.fromisoformat(partition_range[0])
    use_demo_start_date(first)
    echo(f"starting the sandbox (simulators on 127.0.0.1) for {days} days ...")
    with Sandbox(today=datetime.now(UTC).date(), scale=scale) as sandbox:
        os.environ.update(sandbox.env())
        os.environ.setdefault("VIDEO_ANALYTICS_PROFILE", "sandbox")
        for source in SOURCES:
            if hasattr(source, "prepare_demo"):
                echo(f"preparing the {source.__name__.split('.')[-2]} sandbox data ...")
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


def run_steps(defs: dg.Definitions, partition_range: tuple[str, str], echo) -> dict[str, dict]:
    """Every demo step in order, in the instance under DAGSTER_HOME, with progress lines."""
    summary: dict[str, dict] = {}
    steps = demo_steps()
    with dg.DagsterInstance.get() as instance:
        for number, step in enumerate(steps, start=1):
            started = time.monotonic()
            echo(f"[{number}/{len(steps)}] {step.title}: {', '.join(step.assets)} ...")
            with step_progress(f"[{number}/{len(steps)}] {step.title}", interactive=echo is print):
                step_summary = run_step(step, defs, instance, partition_range)
            summary.update(step_summary)
            rows = sum(entry["rows"] for entry in step_summary.values())
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


def format_summary(summary: dict[str, dict], root: str, warehouse: str, home: Path) -> str:
    lines = ["", f"{'asset':<28}{'partitions':>12}{'rows':>12}{'api requests':>14}"]
    for name, entry in sorted(summary.items()):
        lines.append(f"{name:<28}{entry['partitions']:>12}{entry['rows']:>12}{entry['api_requests']:>14}")
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
    its first day, less the history a source loads before it (a source's `DEMO_HISTORY_DAYS`)."""
    from video_analytics.definitions import SOURCES
    from video_analytics.sandbox_start import START_ENV, record_demo_start
    from video_analytics.settings import Settings

    settings = Settings.from_env()
    if settings.is_sandbox:
        history = max((getattr(source, "DEMO_HISTORY_DAYS", 0) for source in SOURCES), default=0)
        start = record_demo_start(settings.lake_root, first - timedelta(days=history))
        if not os.environ.get(START_ENV, "").strip():
            os.environ[START_ENV] = start
