"""The TMDB resource: a key or read token from the environment, and the simulated clock's switch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
from pydantic import Field

from video_analytics.http import RetryPolicy
from video_analytics.settings import Settings
from video_analytics.storage.targets import io_manager_for
from video_analytics.tmdb.client import DEFAULT_RATE, PRODUCTION_BASE_URL, TMDBClient


class PastSnapshotError(RuntimeError):
    """A past day's snapshot was asked of the real TMDB API, which serves only the present."""


class TMDBResource(dg.ConfigurableResource):
    """`api_key` (v3, sent as a query parameter) or `read_access_token` (v4, sent as Bearer).

    `sandbox_clock` is true only in the sandbox profile: requests then carry the day they are about,
    and the simulator replays that day. Against the real API it stays false, and a past day fails.
    """

    api_key: str | None = None
    read_access_token: str | None = None
    base_url: str = PRODUCTION_BASE_URL
    sandbox_clock: bool = False
    rate_limit: float = Field(default=DEFAULT_RATE, description="Requests per second, for all threads.")
    max_concurrency: int = Field(default=8, description="Requests in flight at once.")
    max_attempts: int = Field(default=6, description="HTTP attempts per request before giving up.")
    retry_base_delay: float = Field(default=0.5, description="First backoff wait in seconds; doubles.")
    present_grace_days: int = Field(
        default=1,
        description="Production only: how many days back a snapshot may be dated (yesterday's partition "
        "is taken the morning after).",
    )

    def client(self) -> TMDBClient:
        return TMDBClient(
            self.base_url,
            api_key=self.api_key,
            read_access_token=self.read_access_token,
            rate_limit=self.rate_limit,
            max_concurrency=self.max_concurrency,
            retry=RetryPolicy(max_attempts=self.max_attempts, base_delay=self.retry_base_delay),
        )

    def as_of(self, day: date, today: date | None = None) -> date | None:
        """What to ask TMDB for `day`: the day itself in the sandbox; in production the present,
        provided `day` is recent enough, else a clear error (TMDB keeps no history)."""
        if self.sandbox_clock:
            return day
        today = today or datetime.now(UTC).date()
        if day < today - timedelta(days=self.present_grace_days) or day > today:
            raise PastSnapshotError(
                f"TMDB serves only current popularity and vote counts: a snapshot for {day} cannot be "
                f"taken on {today} against the real API (latest day allowed: "
                f"{today - timedelta(days=self.present_grace_days)}). Past days can be replayed only in "
                "the sandbox profile (VIDEO_ANALYTICS_PROFILE=sandbox)."
            )
        return None


#: The lake, or BigQuery where the original lived (see storage/targets.py).
IO_MANAGER_KEY = "tmdb_io_manager"


def tmdb_resource(settings: Settings) -> TMDBResource:
    """The read token wins over the v3 key when both are set; both stay EnvVars (never logged)."""
    tmdb = settings.tmdb
    credentials: dict[str, object]
    if tmdb.has_read_access_token:
        credentials = {"read_access_token": dg.EnvVar("TMDB_READ_ACCESS_TOKEN")}
    else:
        credentials = {"api_key": dg.EnvVar("TMDB_API_KEY")}
    options: dict[str, object] = {}
    if tmdb.base_url:
        options["base_url"] = tmdb.base_url
    if tmdb.requests_per_second:  # the demo's faster sandbox
        options["rate_limit"] = tmdb.requests_per_second
    return TMDBResource(**credentials, **options, sandbox_clock=settings.is_sandbox)


def build_resources(settings: Settings) -> dict[str, object]:
    return {"tmdb": tmdb_resource(settings), IO_MANAGER_KEY: io_manager_for(settings, "tmdb")}
