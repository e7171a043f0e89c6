"""The DailyMotion resource: credentials from the environment, endpoints and report policy as config."""

from __future__ import annotations

import dataclasses
import hashlib
import threading

import dagster as dg
from pydantic import Field

from video_analytics.dailymotion.client import (
    DEFAULT_DIMENSIONS,
    DEFAULT_METRICS,
    DEFAULT_SCOPES,
    EARNINGS_DIMENSIONS,
    EARNINGS_METRICS,
    PRODUCTION_BASE_URL,
    DailyMotionClient,
    ReportSpec,
    TokenAuth,
)
from video_analytics.dailymotion.scheduling import SchedulerConfig
from video_analytics.http import RetryPolicy
from video_analytics.settings import Settings
from video_analytics.storage.targets import io_manager_for

_AUTHS: dict[tuple, TokenAuth] = {}
_AUTHS_LOCK = threading.Lock()


def shared_auth(
    token_url: str,
    client_id: str,
    client_secret: str,
    scopes: tuple[str, ...],
    username: str | None,
    password: str | None,
) -> TokenAuth:
    """One token per credentials and process, reused until it expires.

    Dagster builds a fresh copy of a resource for every sensor tick and every run, so a token held on
    the resource would be lost each time (a new OAuth grant per tick). This cache lives as long as the
    process: the code server that evaluates the sensor, or one run's process for all its assets. Secrets
    enter the key only as a hash.
    """
    digest = hashlib.sha256(f"{client_secret}\0{password or ''}".encode()).hexdigest()
    key = (token_url, client_id, digest, scopes, username)
    with _AUTHS_LOCK:
        auth = _AUTHS.get(key)
        if auth is None:
            auth = _AUTHS[key] = TokenAuth(token_url, client_id, client_secret, scopes, username, password)
        return auth


class DailyMotionResource(dg.ConfigurableResource):
    """OAuth credentials (`DM_CLIENT_API`, `DM_CLIENT_SECRET`), URLs derived from `DM_BASE_URL`, and the
    report policy the sensor follows (vendor limits: 2 concurrent reports, 1-30 days per report)."""

    client_id: str
    client_secret: str
    base_url: str = PRODUCTION_BASE_URL
    auth_url: str | None = Field(default=None, description="Default: {base_url}/oauth/v1/token")
    graphql_url: str | None = Field(default=None, description="Default: {base_url}/graphql")
    rest_url: str | None = Field(default=None, description="Default: {base_url}/rest")
    username: str | None = Field(default=None, description="Use the password grant (legacy public keys).")
    password: str | None = None
    scopes: list[str] = Field(default_factory=lambda: list(DEFAULT_SCOPES))
    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_METRICS))
    dimensions: list[str] = Field(default_factory=lambda: list(DEFAULT_DIMENSIONS))
    max_range_days: int = Field(default=30, ge=1, description="Days per report (the seed: 30; docs: 180).")
    max_concurrent_reports: int = Field(default=2, ge=1, description="Reports generating at once.")
    lookback_days: int = Field(default=7, ge=0, description="Missing days in this window are fetched.")
    poll_initial_seconds: float = Field(default=60.0, ge=0, description="First poll delay; doubles.")
    poll_max_seconds: float = Field(default=900.0, ge=0, description="Longest wait between two polls.")
    max_report_failures: int = Field(default=3, ge=0, description="FAILED reports re-asked before giving up.")
    failure_backoff_seconds: float = Field(default=600.0, ge=0, description="Wait before re-asking; doubles.")
    alert_seconds: float = Field(
        default=300.0, ge=0, description="How long the sensor's ticks fail to show a report given up."
    )
    settle_days: int = Field(
        default=2, ge=0, description="The last N days are fetched once more after they settled."
    )
    settle_hours: float = Field(
        default=9.0,
        ge=0,
        description="Hours after a day's end (UTC) when its data is final (original: 09:01).",
    )
    view_through_rate_max: float = Field(
        default=100.0, description="100 if the API gives %, 1 if a fraction."
    )
    metadata_concurrency: int = Field(default=10, ge=1, description="Parallel REST metadata calls.")
    earnings_metrics: list[str] = Field(default_factory=lambda: list(EARNINGS_METRICS))
    earnings_dimensions: list[str] = Field(default_factory=lambda: list(EARNINGS_DIMENSIONS))
    earnings_max_concurrent_reports: int = Field(
        default=1,
        ge=1,
        description="Earnings reports generating at once (DailyMotion allows 2 per account, shared with the "
        "audience reports; a refused ask simply waits).",
    )
    max_attempts: int = Field(default=6, description="HTTP attempts per request before giving up.")
    retry_base_delay: float = Field(default=0.5, description="First backoff wait in seconds; doubles.")

    def client(self) -> DailyMotionClient:
        """A client for one tick or one asset (its own request counters), sharing the process's token."""
        token_url = self.auth_url or f"{self.base_url.rstrip('/')}/oauth/v1/token"
        auth = shared_auth(
            token_url, self.client_id, self.client_secret, tuple(self.scopes), self.username, self.password
        )
        return DailyMotionClient(
            self.client_id,
            self.client_secret,
            base_url=self.base_url,
            auth_url=self.auth_url,
            graphql_url=self.graphql_url,
            rest_url=self.rest_url,
            scopes=self.scopes,
            username=self.username,
            password=self.password,
            retry=RetryPolicy(max_attempts=self.max_attempts, base_delay=self.retry_base_delay),
            metadata_concurrency=self.metadata_concurrency,
            auth=auth,
        )

    def scheduler_config(self, kind: str = "audience") -> SchedulerConfig:
        """The sensor's policy for one kind of report ("audience": hourly views; "earnings": daily EUR)."""
        config = self._audience_config()
        if kind == "earnings":
            return dataclasses.replace(
                config,
                metrics=tuple(self.earnings_metrics),
                dimensions=tuple(self.earnings_dimensions),
                max_reports=self.earnings_max_concurrent_reports,
            )
        return config

    def _audience_config(self) -> SchedulerConfig:
        return SchedulerConfig(
            lookback_days=self.lookback_days,
            max_range_days=self.max_range_days,
            max_reports=self.max_concurrent_reports,
            poll_initial=self.poll_initial_seconds,
            poll_max=self.poll_max_seconds,
            max_failures=self.max_report_failures,
            failure_backoff=self.failure_backoff_seconds,
            alert_seconds=self.alert_seconds,
            settle_days=self.settle_days,
            settle_hours=self.settle_hours,
            metrics=tuple(self.metrics),
            dimensions=tuple(self.dimensions),
        )

    def spec(self, start, end) -> ReportSpec:
        return ReportSpec(start, end, tuple(self.metrics), tuple(self.dimensions))


#: Where the report-filled tables go (the lake or BigQuery, see storage/targets.py).
IO_MANAGER_KEY = "dailymotion_io_manager"


def dailymotion_resource(settings: Settings, **overrides: object) -> DailyMotionResource:
    """Credentials stay EnvVars (never in run config or logs); URLs only where they are not the
    vendor's; `overrides` change the report policy (tests, benchmarks)."""
    dm = settings.dailymotion
    urls = {
        "base_url": dm.base_url,
        "auth_url": dm.auth_url,
        "graphql_url": dm.graphql_url,
        "rest_url": dm.rest_url,
    }
    return DailyMotionResource(
        client_id=dg.EnvVar("DM_CLIENT_API"),
        client_secret=dg.EnvVar("DM_CLIENT_SECRET"),
        **{name: url for name, url in urls.items() if url},
        **overrides,
    )


def build_resources(settings: Settings) -> dict[str, object]:
    """The API resource, and the shared Parquet lake or BigQuery
    (VIDEO_ANALYTICS_STORAGE[_DAILYMOTION]=bigquery[+parquet]) for the tables."""
    return {
        "dailymotion": dailymotion_resource(settings),
        IO_MANAGER_KEY: io_manager_for(settings, "dailymotion"),
    }
