"""The executor that runs a run's steps, from settings: Dagster's multiprocess default on one box, or
an existing distributed engine — dagster-celery (Redis broker, worker processes on any machine),
dagster-k8s (a Kubernetes Job per step) or dagster-aws ECS (an ECS task per step).

Each engine's settings live in a YAML file of the `execution: config:` shape, the one file the
celery workers start from too (`dagster-celery worker start -y`), so runs and workers cannot
disagree on the broker or on acknowledgement settings. `deploy/<engine>/` ships one per engine.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
import yaml

from video_analytics.settings import Settings, SettingsError


def executor(settings: Settings) -> dg.ExecutorDefinition | None:
    """None keeps Dagster's default (multiprocess); otherwise the chosen engine, configured."""
    if settings.executor == "multiprocess":
        return None
    config = executor_config(settings)
    if settings.executor == "celery":
        from dagster_celery import celery_executor

        return celery_executor.configured(config, name="celery")
    if settings.executor == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured(config, name="k8s")
    from dagster_aws.ecs import ecs_executor

    return ecs_executor.configured(config, name="ecs")


def executor_config(settings: Settings) -> dict[str, Any]:
    """The `execution: config:` block of VIDEO_ANALYTICS_EXECUTOR_CONFIG; errors say what to fix."""
    path, engine = settings.executor_config, settings.executor
    if not path:
        raise SettingsError(
            f"VIDEO_ANALYTICS_EXECUTOR={engine} needs VIDEO_ANALYTICS_EXECUTOR_CONFIG, the path of its "
            f"executor YAML (e.g. deploy/{engine}/executor.yaml)"
        )
    if not os.path.isfile(path):
        raise SettingsError(f"VIDEO_ANALYTICS_EXECUTOR_CONFIG={path!r}: no such file")
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle) or {}
    config = document.get("execution", {}).get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise SettingsError(f"VIDEO_ANALYTICS_EXECUTOR_CONFIG={path!r} has no `execution: config:` mapping")
    return config
