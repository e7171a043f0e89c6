"""Platform settings, read once from environment variables.

Everything a deployment changes lives here so that `definitions.py` is the only place that turns
settings into resources. Secrets are *not* read here: resources take them as Dagster `EnvVar`s so
they never appear in run config, logs or metadata.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date

PROFILES = ("sandbox", "production")
STORAGE_TARGETS = ("parquet", "bigquery", "redshift")

#: The five accounts of the Brightcove reporting runbook (channel name -> account id).
DEFAULT_BRIGHTCOVE_ACCOUNTS: dict[str, str] = {
    "internet": "1197194721001",
    "intranet": "4413047246001",
    "neo": "5972928207001",
    "research": "3467683096001",
    "research_internal": "3731172721001",
}


class SettingsError(ValueError):
    """A setting from the environment has a value we cannot use."""


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in allowed:
        raise SettingsError(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value


def _date(name: str, default: str) -> str:
    value = os.environ.get(name, default).strip()
    try:
        date.fromisoformat(value)
    except ValueError as exc:
        raise SettingsError(f"{name}={value!r} is not a date in YYYY-MM-DD form") from exc
    return value


def _accounts(name: str) -> dict[str, str]:
    raw = os.environ.get(name)
    if not raw:
        return dict(DEFAULT_BRIGHTCOVE_ACCOUNTS)
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{name} is not valid JSON: {exc.msg}") from exc
    if not isinstance(parsed, dict) or not parsed:
        raise SettingsError(f"{name} must be a JSON object of channel name -> account id")
    return {str(channel): str(account) for channel, account in parsed.items()}


def _owners(name: str) -> dict[str, list[str]]:
    """JSON object asset group -> owners (emails or `team:name`); `"*"` for every other group."""
    raw = os.environ.get(name)
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{name} is not valid JSON: {exc.msg}") from exc
    if not isinstance(parsed, dict) or not all(isinstance(v, list) for v in parsed.values()):
        raise SettingsError(
            f'{name} must be a JSON object of asset group -> list of owners, e.g. {{"*": ["team:data"]}}'
        )
    owners = {str(group): [str(owner) for owner in names] for group, names in parsed.items()}
    for names in owners.values():
        for owner in names:
            if "@" not in owner and not owner.startswith("team:"):
                raise SettingsError(f"{name}: owner {owner!r} is neither an email address nor team:<name>")
    return owners


@dataclass(frozen=True)
class Settings:
    profile: str = "sandbox"
    data_dir: str = "./data"
    start_date: str = "2023-01-01"
    storage: str = "parquet"
    brightcove_accounts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_BRIGHTCOVE_ACCOUNTS))
    owners: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_sandbox(self) -> bool:
        return self.profile == "sandbox"

    @property
    def lake_root(self) -> str:
        """The lake root as an absolute path (or the s3:// URL), so runs in any working folder agree."""
        return self.data_dir if "://" in self.data_dir else os.path.abspath(self.data_dir)

    @property
    def warehouse_path(self) -> str:
        """The DuckDB file: inside a local lake, else in the working folder."""
        if "://" in self.data_dir:
            return os.path.abspath("warehouse.duckdb")
        return os.path.join(self.lake_root, "warehouse.duckdb")

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            profile=_choice("VIDEO_ANALYTICS_PROFILE", "sandbox", PROFILES),
            data_dir=os.environ.get("VIDEO_ANALYTICS_DATA_DIR", "./data").strip() or "./data",
            start_date=_date("VIDEO_ANALYTICS_START_DATE", "2023-01-01"),
            storage=_choice("VIDEO_ANALYTICS_STORAGE", "parquet", STORAGE_TARGETS),
            brightcove_accounts=_accounts("BRIGHTCOVE_ACCOUNTS"),
            owners=_owners("VIDEO_ANALYTICS_OWNERS"),
        )
