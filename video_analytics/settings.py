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
#: Where each source's original kept its tables (`VIDEO_ANALYTICS_STORAGE=originals`); the rest: lake.
ORIGINAL_WAREHOUSES = {"dailymotion": "bigquery", "tmdb": "bigquery", "wistia": "redshift"}
#: Per-source override: VIDEO_ANALYTICS_STORAGE_<SOURCE> (e.g. VIDEO_ANALYTICS_STORAGE_TMDB=bigquery).
SOURCE_STORAGE_PREFIX = "VIDEO_ANALYTICS_STORAGE_"
#: `<target>+parquet` also writes the Parquet lake (inputs are then read from the warehouse).
ALSO_LAKE = "+parquet"

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
    #: Per-source storage overrides (source -> target), from VIDEO_ANALYTICS_STORAGE_<SOURCE>.
    source_storage: dict[str, str] = field(default_factory=dict)

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
            storage=_storage_choice("VIDEO_ANALYTICS_STORAGE", "parquet"),
            brightcove_accounts=_accounts("BRIGHTCOVE_ACCOUNTS"),
            owners=_owners("VIDEO_ANALYTICS_OWNERS"),
            source_storage=_source_storage(),
        )

    def storage_for(self, source: str) -> tuple[str, bool]:
        """(warehouse target, also write the lake?) for one source.

        A per-source setting wins; else VIDEO_ANALYTICS_STORAGE applies to the sources whose original
        lived there (`bigquery`: DailyMotion and TMDB; `redshift`: Wistia; `originals`: each to its
        own); every other source stays on the lake (`parquet`).
        """
        explicit = source in self.source_storage
        value = self.source_storage.get(source, self.storage)
        target, also_lake = value.removesuffix(ALSO_LAKE), value.endswith(ALSO_LAKE)
        original = ORIGINAL_WAREHOUSES.get(source, "parquet")
        if target == "originals":
            target = original
        if target not in ("parquet", original):
            if explicit:
                choices = (
                    f"parquet, {original} or {original}{ALSO_LAKE}" if original != "parquet" else "parquet"
                )
                raise SettingsError(
                    f"{SOURCE_STORAGE_PREFIX}{source.upper()}={value!r}: {source} can be stored in {choices}"
                )
            target = "parquet"
        return target, also_lake and target != "parquet"


def _storage_choice(name: str, default: str) -> str:
    allowed = (*STORAGE_TARGETS, "originals")
    value = os.environ.get(name, default).strip().lower()
    if value.removesuffix(ALSO_LAKE) not in allowed:
        raise SettingsError(
            f"{name}={value!r} is not one of {', '.join(allowed)} (a warehouse may take {ALSO_LAKE}: "
            f"e.g. bigquery{ALSO_LAKE} also writes the Parquet lake)"
        )
    return value


def _source_storage() -> dict[str, str]:
    """VIDEO_ANALYTICS_STORAGE_<SOURCE> variables; validated per source by `Settings.storage_for`."""
    return {
        name.removeprefix(SOURCE_STORAGE_PREFIX).lower(): _storage_choice(name, "parquet")
        for name in os.environ
        if name.startswith(SOURCE_STORAGE_PREFIX) and os.environ[name].strip()
    }
