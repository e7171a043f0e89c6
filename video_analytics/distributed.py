"""The executor that runs a run's steps, from settings: Dagster's multiprocess default on one box
(except that a run of one step executes it in the run worker, see `multiprocess_or_inline`), or
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


class _OneStepInline(dg.Executor):
    """Dagster's multiprocess executor, except for a plan of one step, which runs in this process."""

    def __init__(self, multiprocess: dg.Executor) -> None:
        from dagster._core.executor.in_process import InProcessExecutor

        self._multiprocess = multiprocess
        self._inline = InProcessExecutor(multiprocess.retries, multiprocess.step_dependency_config)

    @property
    def retries(self):
        return self._multiprocess.retries

    @property
    def step_dependency_config(self):
        return self._multiprocess.step_dependency_config

    def execute(self, plan_context, execution_plan):
        one_step = len(execution_plan.step_keys_to_execute) == 1
        yield from (self._inline if one_step else self._multiprocess).execute(plan_context, execution_plan)


@dg.executor(
    name="multiprocess_or_inline",
    config_schema=dg.multi_or_in_process_executor.config_schema,
    requirements=dg.multi_or_in_process_executor.get_requirements,
)
def multiprocess_or_inline(init_context: dg.InitExecutorContext) -> dg.Executor:
    """Dagster's default executor with the same run config (`multiprocess:` or `in_process:`), but a
    run of a single step (most UI, CLI and backfill runs of one asset and day) executes it in the run
    worker instead of starting a second process that imports the definitions again: that process
    cost more than many steps' work. Runs of several steps still get a process per step."""
    from dagster._core.executor.multiprocess import MultiprocessExecutor

    executor = dg.multi_or_in_process_executor.executor_creation_fn(init_context)
    return _OneStepInline(executor) if isinstance(executor, MultiprocessExecutor) else executor


def executor(settings: Settings) -> dg.ExecutorDefinition:
    """Multiprocess on one box (one-step runs inline); otherwise the chosen engine, configured."""
    if settings.executor == "multiprocess":
        return multiprocess_or_inline
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
