"""Agora's contribution to the platform: assets, schedule, the log resource, demo steps and logs."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import date

import dagster as dg

from video_analytics.agora import assets, custom_fields
from video_analytics.agora.resources import AgoraCustomField, AgoraLogsResource
from video_analytics.demo_steps import DemoStep
from video_analytics.settings import Settings, SettingsError, env_number
from video_analytics.storage.targets import storage_kind, with_storage_kind

DEMO_LINES_PER_DAY = 200_000

DEMO_STEPS = (
    DemoStep("Agora player logs", ("agora_session_stats", "agora_rejects", "agora_video_daily_stats"), True),
)


def storage_options() -> dict[str, str]:
    raw = os.environ.get("AGORA_LOG_STORAGE_OPTIONS")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"AGORA_LOG_STORAGE_OPTIONS is not valid JSON: {exc.msg}") from exc
    if not isinstance(parsed, dict):
        raise SettingsError("AGORA_LOG_STORAGE_OPTIONS must be a JSON object of fsspec options")
    return {str(k): str(v) for k, v in parsed.items()}


def configured_custom_fields() -> list[AgoraCustomField]:
    """AGORA_CUSTOM_FIELDS: a JSON list of {key, column, aggregate} (checked again against the output
    columns when the run starts)."""
    try:
        fields = custom_fields.parse_setting(os.environ.get(custom_fields.SETTING))
    except custom_fields.CustomFieldError as exc:
        raise SettingsError(str(exc)) from exc
    return [AgoraCustomField(key=f.key, column=f.column, aggregate=f.aggregate) for f in fields]


def resource(settings: Settings) -> AgoraLogsResource:
    """The log root is read at run time (EnvVar): definitions load even where it is not set. GeoIP
    databases and custom fields are optional settings (docs/agora.md)."""
    return AgoraLogsResource(
        log_root=dg.EnvVar("AGORA_LOG_ROOT"),
        storage_options=storage_options(),
        geoip_database=os.environ.get("AGORA_GEOIP_DATABASE") or None,
        isp_database=os.environ.get("AGORA_ISP_DATABASE") or None,
        custom_fields=configured_custom_fields(),
    )


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=with_storage_kind(assets.assets, storage_kind(settings, "agora")),
        schedules=assets.schedules,
        resources={"agora_logs": resource(settings)},
    )


def demo_log_root(settings: Settings | None = None) -> str:
    settings = settings or Settings.from_env()
    return os.environ.get("AGORA_LOG_ROOT") or f"{settings.lake_root.rstrip('/')}/sandbox/agora_logs"


def sandbox_env(settings: Settings) -> dict[str, str]:
    """For `video-analytics ui` in the sandbox: read the logs the demo generated."""
    return {"AGORA_LOG_ROOT": demo_log_root(settings)}


def prepare_demo(days: list[date]) -> dict[str, str]:
    """Generate the sandbox logs of the demo days (skipping days already there) and point Agora at them.

    Deterministic: a day regenerates identically, so skipping existing days changes nothing.
    """
    from video_analytics.agora.client import LogReader

    root = demo_log_root()
    lines = env_number("AGORA_DEMO_LINES", integer=True) or DEMO_LINES_PER_DAY
    options = storage_options()
    reader = LogReader(root, options)
    missing = [day for day in days if not reader.day_files(day)]
    jobs = [(root, day, lines, options) for day in missing]
    with _generation_progress(len(jobs)) as advance:
        if len(jobs) > 1:  # one process per core: generating is plain Python
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=context) as pool:
                for _ in pool.map(_write_demo_day, jobs):
                    advance()
        else:
            for job in jobs:
                _write_demo_day(job)
                advance()
    return {"AGORA_LOG_ROOT": root}


@contextmanager
def _generation_progress(days: int) -> Iterator[Callable[[], None]]:
    """A bar of the days generated, on a terminal (generating is the demo's longest wait)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("generating Agora player logs"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("days", total=days)
        yield lambda: progress.advance(task)


def _write_demo_day(job: tuple[str, date, int, dict[str, str]]) -> None:
    from video_analytics.agora.generator import write_day

    root, day, lines, options = job
    write_day(root, day, lines, files=3, gzip_files=True, storage_options=options)
