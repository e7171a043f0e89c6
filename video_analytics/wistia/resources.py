"""The Wistia resource: the API token from the environment, the base URL overridable for the sandbox."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from video_analytics.http import RetryPolicy
from video_analytics.wistia.client import PRODUCTION_BASE_URL, REQUESTS_PER_MINUTE, WistiaClient


class WistiaResource(dg.ConfigurableResource):
    """Bearer token (`WISTIA_API_TOKEN`) and base URL (`WISTIA_BASE_URL`) of one Wistia account."""

    api_token: str
    base_url: str = PRODUCTION_BASE_URL
    requests_per_minute: float = Field(
        default=REQUESTS_PER_MINUTE * 0.95,
        description="Client-side pace; Wistia allows 600 requests a minute per account. 0 = unpaced.",
    )
    max_concurrency: int = Field(default=4, description="Requests in flight at once.")
    max_attempts: int = Field(default=6, description="HTTP attempts per request before giving up.")
    retry_base_delay: float = Field(
        default=0.5, description="First backoff wait in seconds; doubles per retry."
    )

    def client(self) -> WistiaClient:
        return WistiaClient(
            self.api_token,
            base_url=self.base_url,
            requests_per_minute=self.requests_per_minute,
            max_concurrency=self.max_concurrency,
            retry=RetryPolicy(max_attempts=self.max_attempts, base_delay=self.retry_base_delay),
        )
