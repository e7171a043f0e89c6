"""Dagster's run queue, plus how often the daemon picks up a backfill launched from the UI.

A backfill launched in the UI waits for the backfill daemon to create its runs, then for the run
queue to launch them. Dagster 1.13 lets `dagster.yaml` set the run queue's polling
(`dequeue_interval_seconds`, 5 s by default) but hard-codes the backfill daemon's loop at 30 s
(`dagster._daemon.controller.DEFAULT_DAEMON_INTERVAL_SECONDS`, read by
`dagster._daemon.backfill.execute_backfill_iteration_loop` when the loop starts): a user waited
15 s on average, 30 s at worst, before anything happened. This coordinator takes that interval as
`backfill_interval_seconds` and sets it when the daemon loads the instance, which it does before
starting its loops (the daemon asks the instance for its run coordinator to decide which daemons
to run). An idle backfill loop is one query of the backfills table, so a few seconds costs nothing.

The setting only matters in the daemon process; the webserver, which also loads the run
coordinator to queue runs, has no backfill loop. `video_analytics_tests/test_run_queue.py` fails
if a Dagster upgrade stops reading the interval where this sets it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import Field, IntSource
from dagster._core.run_coordinator import QueuedRunCoordinator

DEFAULT_BACKFILL_INTERVAL_SECONDS = 5


class ResponsiveRunQueue(QueuedRunCoordinator):
    """`QueuedRunCoordinator` with `backfill_interval_seconds` (see the module docstring)."""

    def __init__(self, backfill_interval_seconds: int = DEFAULT_BACKFILL_INTERVAL_SECONDS, **kwargs: Any):
        super().__init__(**kwargs)
        self._use_backfill_interval(backfill_interval_seconds)

    def _use_backfill_interval(self, seconds: int) -> None:
        if seconds < 1:
            where = "dagster.yaml run_coordinator: config: backfill_interval_seconds"
            raise ValueError(f"{where} must be at least 1 (seconds), got {seconds}")
        from dagster._daemon import controller  # the daemon's; the webserver only queues runs

        self.backfill_interval_seconds = seconds
        controller.DEFAULT_DAEMON_INTERVAL_SECONDS = seconds

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {
            **super().config_type(),
            "backfill_interval_seconds": Field(
                IntSource,
                is_required=False,
                default_value=DEFAULT_BACKFILL_INTERVAL_SECONDS,
                description="Seconds between the backfill daemon's looks for new or running "
                "backfills (Dagster's own, not configurable in 1.13: 30).",
            ),
        }

    @classmethod
    def from_config_value(cls, inst_data, config_value: Mapping[str, Any]) -> ResponsiveRunQueue:
        queue_config = {k: v for k, v in config_value.items() if k != "backfill_interval_seconds"}
        queue = super().from_config_value(inst_data, queue_config)
        queue._use_backfill_interval(
            config_value.get("backfill_interval_seconds", DEFAULT_BACKFILL_INTERVAL_SECONDS)
        )
        return queue
