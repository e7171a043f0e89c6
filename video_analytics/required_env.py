"""Fail at load, not at launch, when production resources point at unset environment variables.

Resources take secrets as ``dg.EnvVar`` so they never reach run config or logs; Dagster resolves
them only when a run starts. In production that meant ``dagster definitions validate`` passed
without a single credential and every run failed later. :func:`require_env_vars` walks the
resources (nested ones included) and names every unset variable with the resource that needs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg

from video_analytics.settings import SettingsError, unset_secrets

SECRETS_CHECK_SETTING = "VIDEO_ANALYTICS_SECRETS_CHECK"


def _env_vars(value: Any) -> Iterable[str]:
    if isinstance(value, dg.EnvVar):
        yield value.env_var_name
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _env_vars(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _env_vars(item)
    elif hasattr(type(value), "model_fields"):  # a ConfigurableResource / IO manager, maybe nested
        for name in type(value).model_fields:
            yield from _env_vars(getattr(value, name, None))


def unset_env_vars(resources: Mapping[str, Any]) -> dict[str, list[str]]:
    """Resource key -> the environment variables it reads at run time that are unset or empty."""
    missing: dict[str, list[str]] = {}
    for key, resource in sorted(resources.items()):
        names = unset_secrets({*_env_vars(resource)})
        if names:
            missing[key] = names
    return missing


def require_env_vars(resources: Mapping[str, Any], profile: str) -> None:
    """Raise :class:`SettingsError` naming every unset variable, per resource."""
    missing = unset_env_vars(resources)
    if missing:
        listed = "; ".join(f"{', '.join(names)} (resource {key!r})" for key, names in missing.items())
        raise SettingsError(
            f"VIDEO_ANALYTICS_PROFILE={profile}: unset environment variables {listed}. Set them where the "
            f"code location and its runs start, or set {SECRETS_CHECK_SETTING}=run if only run workers "
            "hold the secrets."
        )
