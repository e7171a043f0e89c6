"""What the demo runs, and how one step runs: a `DemoStep` is assets materialized together in one run
through a real Dagster instance. Each source's steps are listed in `registry.py`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from video_analytics.partitions import partition_range_tags

#: The summary of a step, per asset: {"partitions": n, "rows": n, "api_requests": n}; rows is None for
#: an asset that writes no table (the warehouse views, the HTML report).
Summary = dict[str, dict]
#: (definitions, instance, (first day, last day)) -> the step's summary.
StepRunner = Callable[[dg.Definitions, dg.DagsterInstance, tuple[str, str]], Summary]


@dataclass(frozen=True)
class DemoStep:
    """Assets materialized together in one run; partitioned steps cover the whole demo range at once.

    `runner` replaces the default single run, for sources whose runs a sensor starts or that need
    history before the range.
    """

    title: str
    assets: tuple[str, ...]
    partitioned: bool
    runner: StepRunner | None = None


def run_step(
    step: DemoStep, defs: dg.Definitions, instance: dg.DagsterInstance, partition_range: tuple[str, str]
) -> Summary:
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


def summarize(result: dg.ExecuteInProcessResult) -> Summary:
    summary: Summary = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        name = materialization.asset_key.to_user_string()
        entry = summary.setdefault(name, {"partitions": 0, "rows": None, "api_requests": 0})
        metadata = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
        entry["partitions"] += 1
        if metadata.get("dagster/row_count") is not None:
            entry["rows"] = max(entry["rows"] or 0, int(metadata["dagster/row_count"]))
        entry["api_requests"] = max(entry["api_requests"], int(metadata.get("api_requests", 0) or 0))
    return summary
