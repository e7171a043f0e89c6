"""House policies applied once to the whole graph: owners and code versions on every asset.

Applied at the root (as dagster-open-platform does) so a source's assets cannot forget them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import linecache
import sys
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from types import CodeType

import dagster as dg

#: Owner of every asset unless `VIDEO_ANALYTICS_OWNERS` names others for its group.
DEFAULT_OWNER = "team:video-analytics"


def owners_for(group: str | None, owners: dict[str, list[str]]) -> list[str]:
    return owners.get(group or "", owners.get("*", [DEFAULT_OWNER]))


def logic_version(assets_def: dg.AssetsDefinition) -> str:
    """A short hash of the asset's compute function and of the other modules of its source package.

    That is where an asset's logic lives (assets wire a client to pure transforms: `transforms`,
    `engine`, `conform`, ...), so a change there marks the asset's materializations as made by older
    code in the UI. Every module of the package counts, not only those the asset module imports at its
    top: asset functions import their transforms where they run (loading the definitions imports no
    polars), and a version that missed one would hide a change. A change to a module of the package
    the asset does not use marks it too: a false "changed" costs a look, a missed one a stale table.
    """
    fn = assets_def.op.compute_fn.decorated_fn
    sources = [function_source(fn), *(_module_source(name) for name in logic_modules(assets_def))]
    return hashlib.sha256("\n".join(sources).encode()).hexdigest()[:12]


def logic_modules(assets_def: dg.AssetsDefinition) -> list[str]:
    """The Python modules of the asset's package other than its own (whose function counts alone)."""
    module = assets_def.op.compute_fn.decorated_fn.__module__
    package = module.rsplit(".", 1)[0]
    folder = Path(sys.modules[package].__file__).parent
    names = (f"{package}.{path.stem}" for path in folder.glob("*.py") if path.stem != "__init__")
    return sorted(name for name in names if name != module)


def function_source(fn) -> str:
    """The lines of ``fn``, decorators included, as ``inspect.getsource`` gives them, but read off the
    compiled code's line positions: ``getsource`` tokenizes each function again, a third of what
    loading the definitions cost."""
    code = fn.__code__
    last = max(end for each in _code_objects(code) for _, end, _, _ in each.co_positions() if end)
    return "".join(linecache.getlines(code.co_filename)[code.co_firstlineno - 1 : last])


def _code_objects(code: CodeType) -> Iterator[CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _code_objects(const)


@cache
def _module_source(name: str) -> str:
    """The module's file, without importing the module."""
    return Path(importlib.util.find_spec(name).origin).read_text(encoding="utf-8")


def apply_house_policies(defs: dg.Definitions, owners: dict[str, list[str]]) -> dg.Definitions:
    """Every asset gets owners (by group) and, where none is set, a code version from its logic."""
    versions = {
        key: logic_version(item)
        for item in defs.assets or []
        if isinstance(item, dg.AssetsDefinition) and item.is_executable
        for key in item.keys
    }

    def stamp(spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.replace_attributes(
            owners=spec.owners or owners_for(spec.group_name, owners),
            code_version=spec.code_version or versions.get(spec.key),
        )

    return defs.map_asset_specs(func=stamp)


def when_upstream_lands(all_inputs_required: bool = True) -> dg.AutomationCondition:
    """For assets derived from other tables (no API call): recompute a day when its upstream days land.

    Dagster's `eager()` without its time window: a backfill or a re-run of older upstream days
    recomputes the same days downstream, not only the latest one. `all_inputs_required=False` is for
    assets that read a window of upstream days and tolerate gaps (TMDB's metrics): any landed input
    day recomputes every day whose window holds it.
    """
    condition = dg.AutomationCondition
    if all_inputs_required:
        trigger = (condition.newly_missing() | condition.any_deps_updated()).since_last_handled()
        trigger = trigger & ~condition.any_deps_missing()
    else:
        trigger = condition.any_deps_updated().since_last_handled()
    label = "when upstream lands" if all_inputs_required else "when any input day lands"
    return (trigger & ~condition.any_deps_in_progress() & ~condition.in_progress()).with_label(label)


#: Evaluates every asset's automation condition; on by default, so derived tables follow their inputs.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
)


def started_in_sandbox(sensors: Sequence[dg.SensorDefinition], is_sandbox: bool) -> list[dg.SensorDefinition]:
    """The sensors, running by default in the sandbox (so `video-analytics ui` shows them at work);
    elsewhere as declared (stopped until a deployment switches them on once its credentials are in)."""
    return [_running(sensor) if is_sandbox else sensor for sensor in sensors]


def _running(sensor: dg.SensorDefinition) -> dg.SensorDefinition:
    if sensor.default_status == dg.DefaultSensorStatus.RUNNING:
        return sensor
    running = sensor.with_attributes()  # a copy; Dagster 1.13 has no public default_status setter
    running._default_status = dg.DefaultSensorStatus.RUNNING
    return running
