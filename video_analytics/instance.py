"""Dagster instance storage that picks SQLite or PostgreSQL from the environment.

``dagster.yaml`` cannot branch on an environment variable, and ``storage: postgres:`` fails to load
when its URL variable is unset. So the repo's ``dagster.yaml`` declares this class as
``storage: custom:``; at load time it builds Dagster's own ``DagsterPostgresStorage`` when
``VIDEO_ANALYTICS_PG_URL`` is set and ``DagsterSqliteStorage`` under ``$DAGSTER_HOME/storage``
otherwise. Every process (webserver, daemon, run workers) re-reads the environment, so they all
agree as long as they share it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import yaml
from dagster import Field, StringSource
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClass, ConfigurableClassData

from video_analytics.settings import SettingsError, dagster_home, instance_postgres_url

PG_URL_ENV = "VIDEO_ANALYTICS_PG_URL"


class EnvSelectedStorage(DagsterStorage, ConfigurableClass):
    """Factory only: ``from_config_value`` returns the concrete Dagster storage, never an instance
    of this class (Dagster requires the declared class to be a ``DagsterStorage`` subclass)."""

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {
            "postgres_url_env": Field(str, is_required=False, default_value=PG_URL_ENV),
            "base_dir": Field(StringSource, is_required=False),
            # A cluster's processes must share one storage: fail rather than fall back to SQLite.
            "require_postgres": Field(bool, is_required=False, default_value=False),
        }

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> DagsterStorage:
        url = instance_postgres_url(config_value["postgres_url_env"])
        if url:
            return _postgres(url, config_value["postgres_url_env"])
        if config_value.get("require_postgres"):
            raise RuntimeError(
                f"This instance (dagster.yaml: storage.custom.config.require_postgres) shares PostgreSQL "
                f"storage between processes: set {config_value['postgres_url_env']}=postgresql://..."
            )
        return _sqlite(config_value.get("base_dir"))


def _postgres(url: str, env_var: str) -> DagsterStorage:
    # Imported lazily so SQLite-only installs never need psycopg2.
    from dagster_postgres import DagsterPostgresStorage
    from dagster_postgres.utils import DagsterPostgresException
    from sqlalchemy.exc import SQLAlchemyError

    # inst_data points at the env var, not the URL, so the password never gets serialized.
    data = ConfigurableClassData(
        "dagster_postgres", "DagsterPostgresStorage", yaml.dump({"postgres_url": {"env": env_var}})
    )
    try:
        return DagsterPostgresStorage(postgres_url=with_psycopg2_driver(url), inst_data=data)
    except (DagsterPostgresException, SQLAlchemyError) as exc:
        raise SettingsError(unreachable_message(url, env_var, exc)) from None


def unreachable_message(url: str, env_var: str, exc: BaseException) -> str:
    """One line naming the setting, the server (password hidden) and PostgreSQL's own reason."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    cause: BaseException = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    cause = getattr(cause, "orig", None) or cause
    reason = next((line.strip() for line in str(cause).splitlines() if line.strip()), type(cause).__name__)
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        shown = "(not a database URL)"
    return (
        f"{env_var}: cannot use the PostgreSQL instance storage at {shown}: {reason}. Start the server "
        f"or fix {env_var}; unset it to keep runs in SQLite under $DAGSTER_HOME."
    )


def with_psycopg2_driver(url: str) -> str:
    """SQLAlchemy 2.1 maps bare ``postgresql://`` to psycopg 3, but dagster-postgres ships psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url.removeprefix(prefix)
    return url


def _sqlite(base_dir: str | None) -> DagsterStorage:
    if not base_dir:
        home = dagster_home()
        if not home:
            raise RuntimeError(f"Set DAGSTER_HOME (SQLite storage) or {PG_URL_ENV} (PostgreSQL storage).")
        base_dir = os.path.join(home, "storage")
    data = ConfigurableClassData(
        "dagster._core.storage.sqlite_storage", "DagsterSqliteStorage", yaml.dump({"base_dir": base_dir})
    )
    return DagsterSqliteStorage.from_local(base_dir, inst_data=data)
