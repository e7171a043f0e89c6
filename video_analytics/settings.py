"""Every environment variable the platform reads, read here and nowhere else.

`Settings.from_env()` turns the environment into typed, frozen settings: the platform-wide ones and
one dataclass per source. `build_definitions(settings)` and the sources' `resources.py` turn them into
resources, so what a deployment sets is visible in one file and a typo fails at load naming its
variable. The few values a *run* reads (the shared rate-limit URL, S3 endpoints, the instance's
PostgreSQL URL) are read by the functions at the end of this module, at run time in each process.

Secrets are *not* read here: resources take them as Dagster `EnvVar`s so they never appear in run
config, logs or metadata. Where a resource depends on which credential is set (TMDB's read token or
v3 key), the settings record only that it is present.

`VARIABLES` lists every variable with its default and meaning; docs/operations.md's table is checked
against it, and reading a name that is not listed is a programming error.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, NamedTuple

PROFILES = ("sandbox", "production")
STORAGE_TARGETS = ("parquet", "bigquery", "redshift")
#: Where each source's original kept its tables (`VIDEO_ANALYTICS_STORAGE=originals`); the rest: lake.
ORIGINAL_WAREHOUSES = {"dailymotion": "bigquery", "tmdb": "bigquery", "wistia": "redshift"}
#: Per-source override: VIDEO_ANALYTICS_STORAGE_<SOURCE> (e.g. VIDEO_ANALYTICS_STORAGE_TMDB=bigquery).
SOURCE_STORAGE_PREFIX = "VIDEO_ANALYTICS_STORAGE_"
#: `<target>+parquet` also writes the Parquet lake (inputs are then read from the warehouse).
ALSO_LAKE = "+parquet"
#: Who runs a run's steps: Dagster's multiprocess default on one box, or an existing distributed engine.
EXECUTORS = ("multiprocess", "celery", "k8s", "ecs")
SECRETS_CHECKS = ("load", "run")
REDSHIFT_DIALECTS = ("redshift", "postgres")
DEFAULT_START_DATE = "2023-01-01"

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


class Variable(NamedTuple):
    """One environment variable: its name, default (as a user would write it) and meaning."""

    name: str
    default: str
    meaning: str
    group: str


def _vars(group: str, *rows: tuple[str, str, str]) -> tuple[Variable, ...]:
    return tuple(Variable(name, default, meaning, group) for name, default, meaning in rows)


#: Every variable the platform reads; `SECRETS` lists the ones Dagster reads as `EnvVar`s.
#: docs/operations.md's settings table is `markdown_table()`.
VARIABLES: tuple[Variable, ...] = (
    *_vars(
        "platform",
        ("VIDEO_ANALYTICS_PROFILE", "sandbox", "`sandbox` (simulators on 127.0.0.1) or `production`."),
        ("VIDEO_ANALYTICS_DATA_DIR", "./data", "The Parquet lake: a folder or `s3://bucket/prefix`."),
        ("VIDEO_ANALYTICS_START_DATE", DEFAULT_START_DATE, "First daily partition (YYYY-MM-DD)."),
        (
            "VIDEO_ANALYTICS_STORAGE",
            "parquet",
            "`parquet`, `bigquery`, `redshift` or `originals`; a warehouse may take `+parquet`.",
        ),
        (
            "VIDEO_ANALYTICS_STORAGE_<SOURCE>",
            "",
            "One source's storage (e.g. `VIDEO_ANALYTICS_STORAGE_TMDB=bigquery+parquet`).",
        ),
        ("VIDEO_ANALYTICS_OWNERS", "", 'JSON asset group -> owners, e.g. `{"*": ["team:data"]}`.'),
        ("VIDEO_ANALYTICS_EXECUTOR", "multiprocess", "`multiprocess`, `celery`, `k8s` or `ecs`."),
        ("VIDEO_ANALYTICS_EXECUTOR_CONFIG", "", "Path of the executor YAML (`execution: config:`)."),
        (
            "VIDEO_ANALYTICS_SECRETS_CHECK",
            "load",
            "`load`: outside the sandbox, refuse to load while a credential is unset; `run`: at launch.",
        ),
        ("VIDEO_ANALYTICS_REPORT_DIR", "<lake>/reports", "Where the cross-platform HTML reports go."),
        ("VIDEO_ANALYTICS_VIDEO_MAPPING", "", "CSV that maps one video's ids across platforms."),
    ),
    *_vars(
        "run time",
        ("VIDEO_ANALYTICS_RATE_LIMIT_URL", "", "`redis://…`: share each vendor account's rate limit."),
        ("VIDEO_ANALYTICS_PG_URL", "", "`postgresql://…`: Dagster's instance storage (else SQLite)."),
        ("DAGSTER_HOME", "./.dagster_home", "Dagster's instance folder (the default is the CLI's)."),
        ("AWS_ENDPOINT_URL", "", "S3 and Glue endpoint (MinIO, moto); AWS when unset."),
        ("AWS_ENDPOINT_URL_S3", "", "S3 endpoint only; wins over `AWS_ENDPOINT_URL`."),
        ("AWS_ENDPOINT_URL_GLUE", "", "Glue endpoint only; wins over `AWS_ENDPOINT_URL`."),
        ("AWS_REGION", "", "Region in `video-analytics redshift-ddl`'s statement."),
        ("AWS_DEFAULT_REGION", "", "Used when `AWS_REGION` is unset."),
        ("BIGQUERY_EMULATOR_HOST", "", "Talk to a BigQuery emulator at host:port, without credentials."),
    ),
    *_vars(
        "brightcove",
        ("BRIGHTCOVE_ACCOUNTS", "the runbook's five accounts", "JSON channel name -> account id."),
        ("BRIGHTCOVE_OAUTH_URL", "the vendor's", "OAuth endpoint (the sandbox points it at its simulator)."),
        ("BRIGHTCOVE_CMS_URL", "the vendor's", "CMS API base URL."),
        ("BRIGHTCOVE_ANALYTICS_URL", "the vendor's", "Analytics API base URL."),
    ),
    *_vars(
        "dailymotion",
        ("DM_BASE_URL", "the vendor's", "API base URL; the next three default from it."),
        ("DM_AUTH_URL", "<base>/oauth/v1/token", "OAuth token endpoint."),
        ("DM_GRAPH_URL", "<base>/graphql", "GraphQL endpoint (reports)."),
        ("DM_REST_URL", "<base>/rest", "REST endpoint (video metadata)."),
    ),
    *_vars(
        "tmdb",
        ("TMDB_BASE_URL", "the vendor's", "API base URL."),
        ("TMDB_REQUESTS_PER_SECOND", "38", "Client pace (requests a second); the demo's sandbox is faster."),
        ("TMDB_READ_ACCESS_TOKEN", "", "Secret (Bearer read token); set, it wins over `TMDB_API_KEY`."),
    ),
    *_vars(
        "wistia",
        ("WISTIA_BASE_URL", "the vendor's", "API base URL."),
        ("WISTIA_REQUESTS_PER_MINUTE", "570", "Client pace (requests a minute)."),
        ("WISTIA_REDSHIFT_SCHEMA", "wistia", "Schema of the native Redshift tables."),
        ("WISTIA_GLUE_DATABASE", "", "Register the S3 lake's Wistia tables in this Glue database."),
        ("WISTIA_REDSHIFT_EXTERNAL_SCHEMA", "wistia_lake", "Spectrum schema in `redshift-ddl`."),
        ("WISTIA_REDSHIFT_IAM_ROLE", "the cluster's default", "IAM role in `redshift-ddl`."),
    ),
    *_vars(
        "agora",
        (
            "AGORA_LOG_ROOT",
            "",
            "Where the player logs are: a folder or `s3://…` (an `EnvVar`, read at run time).",
        ),
        ("AGORA_LOG_STORAGE_OPTIONS", "", "JSON fsspec options for the log root."),
        ("AGORA_CUSTOM_FIELDS", "", 'JSON list of `{"key", "column", "aggregate"}` custom fields.'),
        ("AGORA_GEOIP_DATABASE", "", "MaxMind City database (.mmdb) for country and city."),
        ("AGORA_ISP_DATABASE", "", "MaxMind ISP database (.mmdb)."),
        ("AGORA_DEMO_LINES", "200000", "Sandbox log lines a day the demo generates."),
    ),
    *_vars(
        "bigquery",
        ("VIDEO_ANALYTICS_BQ_PROJECT", "", "BigQuery project (BigQuery storage needs it)."),
        ("VIDEO_ANALYTICS_BQ_DATASET", "", "BigQuery dataset (BigQuery storage needs it)."),
        ("VIDEO_ANALYTICS_BQ_LOCATION", "", "BigQuery location, e.g. `EU`."),
        (
            "VIDEO_ANALYTICS_BQ_CREDENTIALS",
            "",
            "Secret: base64 service-account JSON; unset: Application Default Credentials.",
        ),
    ),
    *_vars(
        "redshift",
        ("REDSHIFT_DIALECT", "redshift", "`redshift`, or `postgres` for a PostgreSQL server."),
        ("REDSHIFT_PORT", "5439", "Port of the cluster (the host is `REDSHIFT_HOST`, an `EnvVar`)."),
        ("REDSHIFT_USER", "", "Database user."),
        ("REDSHIFT_DATABASE", "dev", "Database name."),
        ("REDSHIFT_SSLMODE", "require", "libpq sslmode."),
        ("REDSHIFT_PASSWORD", "", "Secret; unset: no password."),
    ),
)
VARIABLE_NAMES = frozenset(variable.name for variable in VARIABLES)

#: Credentials: never read into settings; resources take them as `dg.EnvVar`s, resolved at run time.
#: (TMDB_READ_ACCESS_TOKEN, VIDEO_ANALYTICS_BQ_CREDENTIALS, REDSHIFT_PASSWORD and AGORA_LOG_ROOT are
#: `EnvVar`s too, listed in VARIABLES because whether they are set is read.)
SECRETS: tuple[Variable, ...] = _vars(
    "secrets (EnvVar)",
    ("BRIGHTCOVE_CLIENT_ID", "", "Brightcove OAuth client id."),
    ("BRIGHTCOVE_CLIENT_SECRET", "", "Brightcove OAuth client secret."),
    ("DM_CLIENT_API", "", "DailyMotion API key (OAuth client id)."),
    ("DM_CLIENT_SECRET", "", "DailyMotion API secret."),
    ("TMDB_API_KEY", "", "TMDB v3 key (query `api_key`), unless `TMDB_READ_ACCESS_TOKEN` is set."),
    ("WISTIA_API_TOKEN", "", "Wistia API token (Bearer)."),
    ("REDSHIFT_HOST", "", "Redshift (or PostgreSQL) host."),
)


def markdown_table() -> str:
    """The settings table of docs/operations.md (a test keeps the page equal to it)."""
    rows = ["| group | variable | default | meaning |", "|---|---|---|---|"]
    for variable in (*VARIABLES, *SECRETS):
        default = variable.default or "unset"
        default = f"`{default}`" if default != "unset" and " " not in default else default
        rows.append(f"| {variable.group} | `{variable.name}` | {default} | {variable.meaning} |")
    return "\n".join(rows) + "\n"


class _Env:
    """Reads of one environment mapping, each name checked against `VARIABLES`."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def text(self, name: str, default: str = "") -> str:
        if name not in VARIABLE_NAMES:
            raise KeyError(f"{name} is not in video_analytics.settings.VARIABLES: list it there first")
        return self.environ.get(name, "").strip() or default

    def optional(self, name: str) -> str | None:
        return self.text(name) or None

    def is_set(self, name: str) -> bool:
        return bool(self.text(name))

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name, default).lower()
        if value not in allowed:
            raise SettingsError(f"{name}={value!r} is not one of {', '.join(allowed)}")
        return value

    def date(self, name: str, default: str) -> str:
        value = self.text(name, default)
        try:
            date.fromisoformat(value)
        except ValueError as exc:
            raise SettingsError(f"{name}={value!r} is not a date in YYYY-MM-DD form") from exc
        return value

    def number(self, name: str, *, integer: bool = False) -> Any:
        """A positive number, ``None`` when unset; a typo names its variable (``float('abc')``
        alone says neither which setting nor what to do)."""
        raw = self.text(name)
        if not raw:
            return None
        kind = "a whole number" if integer else "a number"
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not {kind}; set {kind} above 0, or unset it") from None
        if not math.isfinite(value) or value <= 0:
            raise SettingsError(f"{name}={raw!r} must be above 0; set {kind} above 0, or unset it")
        return value

    def json(self, name: str, shape: type, what: str) -> Any:
        raw = self.text(name)
        if not raw:
            return None
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{name} is not valid JSON: {exc.msg}") from exc
        if not isinstance(parsed, shape):
            raise SettingsError(f"{name} must be {what}")
        return parsed

    def storage(self, name: str, default: str = "parquet") -> str:
        return _checked_storage(name, self.text(name, default))


def _accounts(env: _Env) -> dict[str, str]:
    parsed = env.json("BRIGHTCOVE_ACCOUNTS", dict, "a JSON object of channel name -> account id")
    if parsed is None:
        return dict(DEFAULT_BRIGHTCOVE_ACCOUNTS)
    if not parsed:
        raise SettingsError("BRIGHTCOVE_ACCOUNTS must be a JSON object of channel name -> account id")
    return {str(channel): str(account) for channel, account in parsed.items()}


def _owners(env: _Env) -> dict[str, list[str]]:
    """JSON object asset group -> owners (emails or `team:name`); `"*"` for every other group."""
    name = "VIDEO_ANALYTICS_OWNERS"
    what = 'a JSON object of asset group -> list of owners, e.g. {"*": ["team:data"]}'
    parsed = env.json(name, dict, what) or {}
    if not all(isinstance(v, list) for v in parsed.values()):
        raise SettingsError(f"{name} must be {what}")
    owners = {str(group): [str(owner) for owner in names] for group, names in parsed.items()}
    for names in owners.values():
        for owner in names:
            if "@" not in owner and not owner.startswith("team:"):
                raise SettingsError(f"{name}: owner {owner!r} is neither an email address nor team:<name>")
    return owners


def _source_storage(env: _Env) -> dict[str, str]:
    """VIDEO_ANALYTICS_STORAGE_<SOURCE> variables; validated per source by `Settings.storage_for`."""
    names = [n for n in env.environ if n.startswith(SOURCE_STORAGE_PREFIX) and env.environ[n].strip()]
    return {
        name.removeprefix(SOURCE_STORAGE_PREFIX).lower(): _checked_storage(name, env.environ[name])
        for name in names
    }


def _checked_storage(name: str, raw: str) -> str:
    value = raw.strip().lower()
    allowed = (*STORAGE_TARGETS, "originals")
    if value.removesuffix(ALSO_LAKE) not in allowed:
        raise SettingsError(
            f"{name}={value!r} is not one of {', '.join(allowed)} (a warehouse may take {ALSO_LAKE}: "
            f"e.g. bigquery{ALSO_LAKE} also writes the Parquet lake)"
        )
    return value


@dataclass(frozen=True)
class BrightcoveSettings:
    """Accounts to report on; endpoints only when they are not the vendor's (the sandbox)."""

    accounts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_BRIGHTCOVE_ACCOUNTS))
    oauth_url: str | None = None
    cms_url: str | None = None
    analytics_url: str | None = None

    @classmethod
    def from_env(cls, env: _Env) -> BrightcoveSettings:
        return cls(
            accounts=_accounts(env),
            oauth_url=env.optional("BRIGHTCOVE_OAUTH_URL"),
            cms_url=env.optional("BRIGHTCOVE_CMS_URL"),
            analytics_url=env.optional("BRIGHTCOVE_ANALYTICS_URL"),
        )


@dataclass(frozen=True)
class DailyMotionSettings:
    """Endpoints only when they are not the vendor's; the report policy is resource config."""

    base_url: str | None = None
    auth_url: str | None = None
    graphql_url: str | None = None
    rest_url: str | None = None

    @classmethod
    def from_env(cls, env: _Env) -> DailyMotionSettings:
        return cls(
            base_url=env.optional("DM_BASE_URL"),
            auth_url=env.optional("DM_AUTH_URL"),
            graphql_url=env.optional("DM_GRAPH_URL"),
            rest_url=env.optional("DM_REST_URL"),
        )


@dataclass(frozen=True)
class TMDBSettings:
    base_url: str | None = None
    requests_per_second: float | None = None
    #: Which credential the resource takes: the read token wins over the v3 key when both are set.
    has_read_access_token: bool = False

    @classmethod
    def from_env(cls, env: _Env) -> TMDBSettings:
        return cls(
            base_url=env.optional("TMDB_BASE_URL"),
            requests_per_second=_rate(env, "TMDB_REQUESTS_PER_SECOND", "requests a second"),
            has_read_access_token=env.is_set("TMDB_READ_ACCESS_TOKEN"),
        )


def _rate(env: _Env, name: str, unit: str) -> float | None:
    raw = env.text(name)
    try:
        return env.number(name)
    except SettingsError:
        raise SettingsError(f"{name}={raw!r} is not a positive number ({unit})") from None


@dataclass(frozen=True)
class WistiaSettings:
    base_url: str | None = None
    requests_per_minute: float | None = None
    redshift_schema: str = "wistia"
    #: Set: the S3 lake's Wistia tables are registered in this Glue database.
    glue_database: str | None = None
    redshift_external_schema: str = "wistia_lake"
    redshift_iam_role: str | None = None

    @classmethod
    def from_env(cls, env: _Env) -> WistiaSettings:
        return cls(
            base_url=env.optional("WISTIA_BASE_URL"),
            requests_per_minute=env.number("WISTIA_REQUESTS_PER_MINUTE"),
            redshift_schema=env.text("WISTIA_REDSHIFT_SCHEMA", "wistia"),
            glue_database=env.optional("WISTIA_GLUE_DATABASE"),
            redshift_external_schema=env.text("WISTIA_REDSHIFT_EXTERNAL_SCHEMA", "wistia_lake"),
            redshift_iam_role=env.optional("WISTIA_REDSHIFT_IAM_ROLE"),
        )


@dataclass(frozen=True)
class AgoraSettings:
    """The log root itself is an `EnvVar` (read at run time: definitions load where it is unset);
    here only whether and where it is set, for the sandbox's generated logs."""

    log_root: str | None = None
    log_storage_options: dict[str, str] = field(default_factory=dict)
    #: AGORA_CUSTOM_FIELDS as written (JSON); `agora.configuration.parse_setting` validates it.
    custom_fields: str | None = None
    geoip_database: str | None = None
    isp_database: str | None = None
    demo_lines: int | None = None

    @classmethod
    def from_env(cls, env: _Env) -> AgoraSettings:
        options = env.json("AGORA_LOG_STORAGE_OPTIONS", dict, "a JSON object of fsspec options") or {}
        return cls(
            log_root=env.optional("AGORA_LOG_ROOT"),
            log_storage_options={str(k): str(v) for k, v in options.items()},
            custom_fields=env.optional("AGORA_CUSTOM_FIELDS"),
            geoip_database=env.optional("AGORA_GEOIP_DATABASE"),
            isp_database=env.optional("AGORA_ISP_DATABASE"),
            demo_lines=env.number("AGORA_DEMO_LINES", integer=True),
        )


@dataclass(frozen=True)
class CrossPlatformSettings:
    video_mapping: str | None = None
    report_dir: str | None = None

    @classmethod
    def from_env(cls, env: _Env) -> CrossPlatformSettings:
        return cls(
            video_mapping=env.optional("VIDEO_ANALYTICS_VIDEO_MAPPING"),
            report_dir=env.optional("VIDEO_ANALYTICS_REPORT_DIR"),
        )


@dataclass(frozen=True)
class BigQuerySettings:
    project: str | None = None
    dataset: str | None = None
    location: str | None = None
    #: Unset: Application Default Credentials. The value stays an `EnvVar`.
    has_credentials: bool = False

    @classmethod
    def from_env(cls, env: _Env) -> BigQuerySettings:
        return cls(
            project=env.optional("VIDEO_ANALYTICS_BQ_PROJECT"),
            dataset=env.optional("VIDEO_ANALYTICS_BQ_DATASET"),
            location=env.optional("VIDEO_ANALYTICS_BQ_LOCATION"),
            has_credentials=env.is_set("VIDEO_ANALYTICS_BQ_CREDENTIALS"),
        )


@dataclass(frozen=True)
class RedshiftSettings:
    """The connection but its host and password, which stay `EnvVar`s."""

    dialect: str = "redshift"
    port: int = 5439
    user: str | None = None
    database: str = "dev"
    sslmode: str = "require"
    has_password: bool = False

    @classmethod
    def from_env(cls, env: _Env) -> RedshiftSettings:
        return cls(
            dialect=env.choice("REDSHIFT_DIALECT", "redshift", REDSHIFT_DIALECTS),
            port=env.number("REDSHIFT_PORT", integer=True) or 5439,
            user=env.optional("REDSHIFT_USER"),
            database=env.text("REDSHIFT_DATABASE", "dev"),
            sslmode=env.text("REDSHIFT_SSLMODE", "require"),
            has_password=env.is_set("REDSHIFT_PASSWORD"),
        )


@dataclass(frozen=True)
class Settings:
    profile: str = "sandbox"
    data_dir: str = "./data"
    start_date: str = DEFAULT_START_DATE
    storage: str = "parquet"
    owners: dict[str, list[str]] = field(default_factory=dict)
    #: Per-source storage overrides (source -> target), from VIDEO_ANALYTICS_STORAGE_<SOURCE>.
    source_storage: dict[str, str] = field(default_factory=dict)
    executor: str = "multiprocess"
    executor_config: str = ""
    #: "load": outside the sandbox, definitions refuse to load while a resource's EnvVar is unset;
    #: "run": leave it to run launch (deployments where only run workers hold the secrets).
    secrets_check: str = "load"
    brightcove: BrightcoveSettings = field(default_factory=BrightcoveSettings)
    dailymotion: DailyMotionSettings = field(default_factory=DailyMotionSettings)
    tmdb: TMDBSettings = field(default_factory=TMDBSettings)
    wistia: WistiaSettings = field(default_factory=WistiaSettings)
    agora: AgoraSettings = field(default_factory=AgoraSettings)
    cross_platform: CrossPlatformSettings = field(default_factory=CrossPlatformSettings)
    bigquery: BigQuerySettings = field(default_factory=BigQuerySettings)
    redshift: RedshiftSettings = field(default_factory=RedshiftSettings)

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
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """The settings of `environ` (default: this process's environment); `overrides` replace
        fields afterwards (tests: `Settings.from_env(data_dir=tmp)`)."""
        env = _Env(os.environ if environ is None else environ)
        settings = cls(
            profile=env.choice("VIDEO_ANALYTICS_PROFILE", "sandbox", PROFILES),
            data_dir=env.text("VIDEO_ANALYTICS_DATA_DIR", "./data"),
            start_date=env.date("VIDEO_ANALYTICS_START_DATE", DEFAULT_START_DATE),
            storage=env.storage("VIDEO_ANALYTICS_STORAGE"),
            owners=_owners(env),
            source_storage=_source_storage(env),
            executor=env.choice("VIDEO_ANALYTICS_EXECUTOR", "multiprocess", EXECUTORS),
            executor_config=env.text("VIDEO_ANALYTICS_EXECUTOR_CONFIG"),
            secrets_check=env.choice("VIDEO_ANALYTICS_SECRETS_CHECK", "load", SECRETS_CHECKS),
            brightcove=BrightcoveSettings.from_env(env),
            dailymotion=DailyMotionSettings.from_env(env),
            tmdb=TMDBSettings.from_env(env),
            wistia=WistiaSettings.from_env(env),
            agora=AgoraSettings.from_env(env),
            cross_platform=CrossPlatformSettings.from_env(env),
            bigquery=BigQuerySettings.from_env(env),
            redshift=RedshiftSettings.from_env(env),
        )
        return replace(settings, **overrides) if overrides else settings

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


# What a process reads when it runs, not when definitions load: each worker of a distributed run may
# have its own environment (a Redis URL, an S3 endpoint), and the instance is built before any code
# location. Still only from here, and only names listed in VARIABLES.


def env_number(name: str, *, integer: bool = False) -> Any:
    """A positive number from the environment, ``None`` when unset; errors name the variable."""
    return _Env(os.environ).number(name, integer=integer)


def shared_rate_limit_url() -> str | None:
    """VIDEO_ANALYTICS_RATE_LIMIT_URL: the Redis that shares each vendor account's rate limit."""
    return _Env(os.environ).optional("VIDEO_ANALYTICS_RATE_LIMIT_URL")


def s3_endpoint_url() -> str | None:
    env = _Env(os.environ)
    return env.optional("AWS_ENDPOINT_URL_S3") or env.optional("AWS_ENDPOINT_URL")


def glue_endpoint_url() -> str | None:
    env = _Env(os.environ)
    return env.optional("AWS_ENDPOINT_URL_GLUE") or env.optional("AWS_ENDPOINT_URL")


def aws_region() -> str | None:
    env = _Env(os.environ)
    return env.optional("AWS_REGION") or env.optional("AWS_DEFAULT_REGION")


def bigquery_emulator_host() -> str | None:
    """BIGQUERY_EMULATOR_HOST, the variable google-cloud-bigquery itself honours."""
    return _Env(os.environ).optional("BIGQUERY_EMULATOR_HOST")


def instance_postgres_url(name: str) -> str | None:
    """The instance's PostgreSQL URL from the variable dagster.yaml names (VIDEO_ANALYTICS_PG_URL
    unless `storage.custom.config.postgres_url_env` names another)."""
    return os.environ.get(name, "").strip() or None


def dagster_home() -> str | None:
    return _Env(os.environ).optional("DAGSTER_HOME")


def unset_secrets(names: set[str] | list[str]) -> list[str]:
    """The secrets among `names` (the `EnvVar`s resources read at run time) that are unset or empty;
    their values are never read into settings."""
    return sorted(name for name in names if not os.environ.get(name, "").strip())
