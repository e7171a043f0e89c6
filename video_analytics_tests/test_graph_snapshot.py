"""The whole asset graph against a reviewed snapshot: a change to keys, partitions, checks, schedules
or sensors shows up in the diff of `snapshots/asset_graph.json`, not only in the UI.

After an intended change: `UPDATE_SNAPSHOTS=1 pytest video_analytics_tests/test_graph_snapshot.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from video_analytics.definitions import build_definitions
from video_analytics.settings import Settings

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def _partitions(node) -> str | None:
    definition = node.partitions_def
    if definition is None:
        return None
    if isinstance(definition, dg.TimeWindowPartitionsDefinition):
        start = definition.start.date().isoformat()
        return f"{type(definition).__name__}(from {start}, {definition.cron_schedule}, {definition.timezone})"
    return type(definition).__name__


def graph_snapshot(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for key in graph.asset_check_keys:
        checks.setdefault(key.asset_key.to_user_string(), []).append(key.name)
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        name = key.to_user_string()
        assets[name] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "partitions": _partitions(node),
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "checks": sorted(checks.get(name, [])),
            "automation": node.automation_condition is not None,
            "materializable": node.is_materializable,
        }
    repository = defs.get_repository_def()
    return {
        "assets": assets,
        "schedules": {
            s.name: s.cron_schedule for s in sorted(repository.schedule_defs, key=lambda s: s.name)
        },
        "sensors": sorted(s.name for s in repository.sensor_defs),
    }


def test_asset_graph_matches_the_reviewed_snapshot():
    actual = graph_snapshot(build_definitions(Settings()))
    text = json.dumps(actual, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(text)
    expected = json.loads(SNAPSHOT.read_text())
    assert actual == expected, (
        "the asset graph changed; review the diff, then run "
        "UPDATE_SNAPSHOTS=1 pytest video_analytics_tests/test_graph_snapshot.py"
    )
